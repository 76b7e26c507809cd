package config

// deviceKey is one key of a devices[] item: the per-item table of the
// devices list, as settings is the table of the sections. The reader knows
// a device's keys from it and the docs list them; the rules that tie keys
// together (ABP needs three, OTAA two) are checkDevices'.
type deviceKey struct {
	key string
	// alias is another name for the same key, and why it is accepted.
	alias, aliasWhy string
	// field is the key's field in d: a []byte of hex (an EUI, an address,
	// a key), a *string or a *bool.
	field  func(d *Device) any
	reason string
}

func deviceKeyTable() []deviceKey {
	return []deviceKey{
		{key: "devEUI", field: func(d *Device) any { return d.DevEUI[:] },
			reason: "16 hex digits, as printed on the device's label. Required."},
		{key: "devAddr", field: func(d *Device) any { return d.DevAddr[:] },
			reason: "ABP: the device address, 8 hex digits; with nwkSKey and appSKey."},
		{key: "nwkSKey", field: func(d *Device) any { return d.NwkSKey[:] },
			reason: "ABP: the network session key, 32 hex digits."},
		{key: "appSKey", field: func(d *Device) any { return d.AppSKey[:] },
			reason: "ABP: the application session key, 32 hex digits."},
		{key: "joinEUI", alias: "appEUI", aliasWhy: "appEUI is its LoRaWAN 1.0 name",
			field:  func(d *Device) any { return d.JoinEUI[:] },
			reason: "OTAA: the JoinEUI, 16 hex digits; with appKey. The session is learnt from the device's join."},
		{key: "appKey", field: func(d *Device) any { return d.AppKey[:] },
			reason: "OTAA: the root key, 32 hex digits."},
		{key: "nwkKey", field: func(d *Device) any { return d.NwkKey[:] },
			reason: "OTAA, LoRaWAN 1.1 devices only: the second root key, with appKey."},
		{key: "name", field: func(d *Device) any { return &d.Name },
			reason: "A name for logs, the API and the page."},
		{key: "relaxFCnt", field: func(d *Device) any { return &d.RelaxFCnt },
			reason: "true accepts a frame counter that went back, for ABP devices that restart it at every power-up; it gives up replay protection for the device."},
		{key: "payloadFormat", field: func(d *Device) any { return &d.PayloadFormat },
			reason: "How the page and the API show the payload (endpoints always get it unchanged): auto (Cayenne LPP when it reads as LPP and an active connection has brand CAYENNE, else hex), cayenne-lpp or hex."},
	}
}

// deviceKeys are the keys a devices[] item knows, aliases beside their key.
func deviceKeys() section { return deviceKeysOf(deviceKeyTable()) }

func deviceKeysOf(keys []deviceKey) section {
	var s section
	for _, k := range keys {
		s.known = append(s.known, k.key)
		if k.alias != "" {
			s.known = append(s.known, k.alias)
		}
	}
	return s
}
