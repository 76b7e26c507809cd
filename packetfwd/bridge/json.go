package bridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The JSON encodings are read key by key, with exact names: encoding/json
// matches struct fields case-insensitively, and v3's "gatewayID" (base64)
// and v4's "gatewayId" (hex) differ only in case. protojson also accepts
// the proto field names, so those are accepted too.

// jsonObject is one JSON object, its values left raw.
type jsonObject map[string]json.RawMessage

func parseObject(b []byte) (jsonObject, bool) {
	var o jsonObject
	if err := json.Unmarshal(b, &o); err != nil || o == nil {
		return nil, false
	}
	return o, true
}

// raw returns the first of keys present and not null.
func (o jsonObject) raw(keys ...string) (json.RawMessage, bool) {
	for _, k := range keys {
		if v, ok := o[k]; ok && !bytes.Equal(v, []byte("null")) {
			return v, true
		}
	}
	return nil, false
}

func (o jsonObject) object(keys ...string) (jsonObject, bool, bool) {
	v, ok := o.raw(keys...)
	if !ok {
		return nil, false, true
	}
	sub, ok := parseObject(v)
	return sub, ok, ok
}

func (o jsonObject) str(keys ...string) (string, bool, bool) {
	v, ok := o.raw(keys...)
	if !ok {
		return "", false, true
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err == nil, err == nil
}

// num reads a number, or a number in a string as protojson writes 64-bit
// integers; valid is false for anything else.
func (o jsonObject) num(keys ...string) (f float64, present, valid bool) {
	v, ok := o.raw(keys...)
	if !ok {
		return 0, false, true
	}
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, true, false
		}
		v = []byte(s)
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, true, false
	}
	return f, true, true
}

// uint reads a non-negative integer that fits 32 bits.
func (o jsonObject) uint(keys ...string) (uint64, bool) {
	f, _, ok := o.num(keys...)
	if !ok || f < 0 || f > math.MaxUint32 || f != math.Trunc(f) {
		return 0, false
	}
	return uint64(f), true
}

// bytes reads base64, standard or URL alphabet, padded or not (protojson
// accepts all four).
func (o jsonObject) bytes(keys ...string) ([]byte, bool) {
	s, present, ok := o.str(keys...)
	if !present || !ok {
		return nil, ok
	}
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		b, err := base64.RawURLEncoding.DecodeString(s)
		return b, err == nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

func decodeBridgeJSON(b []byte) (bridgeUplink, error) {
	var u bridgeUplink
	top, ok := parseObject(b)
	if !ok {
		return u, bridgeErr("bad_json", "not a JSON object")
	}
	if u.phy, ok = top.bytes("phyPayload", "phy_payload"); !ok {
		return u, bridgeErr("bad_phy_payload", "phyPayload is not base64")
	}
	if len(u.phy) == 0 {
		return u, bridgeErr("no_phy_payload", "no phyPayload")
	}
	rx, present, ok := top.object("rxInfo", "rx_info")
	if !present || !ok {
		return u, bridgeErr("bad_rx_info", "no rxInfo object")
	}
	tx, present, ok := top.object("txInfo", "tx_info")
	if !present || !ok {
		return u, bridgeErr("bad_tx_info", "no txInfo object")
	}
	if _, v3 := rx.raw("gatewayID"); v3 {
		if err := u.jsonRxV3(rx); err != nil {
			return u, err
		}
		return u, u.jsonTxV3(tx)
	}
	if err := u.jsonRxV4(rx); err != nil {
		return u, err
	}
	return u, u.jsonTxV4(tx)
}

// jsonRxCommon reads the fields v3 and v4 share.
func (u *bridgeUplink) jsonRxCommon(rx jsonObject, snrKey string) error {
	var ok [7]bool
	var rssi float64
	rssi, _, ok[0] = rx.num("rssi")
	u.snr, _, ok[1] = rx.num(snrKey)
	u.channel, ok[2] = rx.uint("channel")
	u.rfChain, ok[3] = rx.uint("rfChain", "rf_chain")
	u.board, ok[4] = rx.uint("board")
	u.antenna, ok[5] = rx.uint("antenna")
	u.context, ok[6] = rx.bytes("context")
	for _, good := range ok {
		if !good {
			return bridgeErr("bad_rx_info", "a field of rxInfo has the wrong type")
		}
	}
	u.rssi = rssi
	return nil
}

func (u *bridgeUplink) jsonRxV4(rx jsonObject) error {
	id, _, _ := rx.str("gatewayId", "gateway_id")
	if len(id) != 16 || u.eui.UnmarshalText([]byte(id)) != nil {
		return bridgeErr("bad_gateway_id", "gatewayId %q", truncate(id))
	}
	u.hasEUI = true
	if err := u.jsonRxCommon(rx, "snr"); err != nil {
		return err
	}
	if err := u.jsonTime(rx, "gwTime", "gw_time", "time"); err != nil {
		return err
	}
	return u.jsonCRC(rx, protoNoCRC)
}

func (u *bridgeUplink) jsonRxV3(rx jsonObject) error {
	id, ok := rx.bytes("gatewayID")
	if !ok || len(id) != 8 {
		return bridgeErr("bad_gateway_id", "gatewayID is not 8 bytes of base64")
	}
	copy(u.eui[:], id)
	u.hasEUI = true
	if err := u.jsonRxCommon(rx, "loRaSNR"); err != nil {
		return err
	}
	if err := u.jsonTime(rx, "time"); err != nil {
		return err
	}
	// Early v3 bridges gave the tmst as "timestamp", later as context.
	if t, present, _ := rx.num("timestamp"); present {
		ts, ok := rx.uint("timestamp")
		if !ok {
			return bridgeErr("bad_rx_info", "timestamp %v", t)
		}
		u.tmst, u.hasTmst = uint32(ts), true
	}
	// v3's jsonpb wrote every field, NO_CRC included; a bridge that wrote
	// no crcStatus predates the field and only forwarded good CRCs.
	return u.jsonCRC(rx, protoCRCOK)
}

func (u *bridgeUplink) jsonTime(rx jsonObject, keys ...string) error {
	s, present, ok := rx.str(keys...)
	if !present || s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if !ok || err != nil {
		return bridgeErr("bad_rx_info", "time %q", truncate(s))
	}
	u.time = t
	return nil
}

// jsonCRC reads crcStatus by name (or number, which protojson accepts);
// absent is def.
func (u *bridgeUplink) jsonCRC(rx jsonObject, def uint64) error {
	v, present := rx.raw("crcStatus", "crc_status")
	if !present {
		u.crc = crcStatus(def)
		return nil
	}
	var name string
	if json.Unmarshal(v, &name) == nil {
		n := slices.Index(crcNames, name)
		if n < 0 {
			return bridgeErr("bad_rx_info", "crcStatus %q", truncate(name))
		}
		u.crc = crcStatus(uint64(n))
		return nil
	}
	n, ok := rx.uint("crcStatus", "crc_status")
	if !ok {
		return bridgeErr("bad_rx_info", "crcStatus is neither a name nor a number")
	}
	u.crc = crcStatus(n)
	return nil
}

func (u *bridgeUplink) jsonTxV4(tx jsonObject) error {
	var ok bool
	if u.freqHz, ok = tx.uint("frequency"); !ok {
		return bridgeErr("bad_tx_info", "frequency")
	}
	mod, present, ok := tx.object("modulation")
	if !present || !ok {
		return bridgeErr("bad_tx_info", "no modulation object")
	}
	if l, present, ok := mod.object("lora"); present {
		var okSF, okBW bool
		u.sf, okSF = l.uint("spreadingFactor", "spreading_factor")
		u.bwHz, okBW = l.uint("bandwidth")
		if !ok || !okSF || !okBW {
			return bridgeErr("bad_tx_info", "modulation.lora")
		}
		u.modu = "LORA"
		u.codr = jsonCodeRate(l)
		return nil
	}
	if f, present, ok := mod.object("fsk"); present {
		var okRate bool
		if u.fskRate, okRate = f.uint("datarate"); !ok || !okRate {
			return bridgeErr("bad_tx_info", "modulation.fsk")
		}
		u.modu = "FSK"
		return nil
	}
	if l, present, ok := mod.object("lrFhss", "lr_fhss"); present {
		var okW bool
		if u.ocwHz, okW = l.uint("operatingChannelWidth", "operating_channel_width"); !ok || !okW {
			return bridgeErr("bad_tx_info", "modulation.lrFhss")
		}
		u.modu = "LR-FHSS"
		u.codr = jsonCodeRate(l)
		return nil
	}
	return bridgeErr("bad_tx_info", "unknown modulation")
}

func jsonCodeRate(o jsonObject) string {
	if name, _, ok := o.str("codeRate", "code_rate"); ok {
		if n := slices.IndexFunc(codeRateNames, func(c struct{ json, udp string }) bool { return c.json == name }); n > 0 {
			return codeRate(uint64(n), "")
		}
	}
	if n, ok := o.uint("codeRate", "code_rate"); ok {
		return codeRate(n, "")
	}
	legacy, _, _ := o.str("codeRateLegacy", "code_rate_legacy")
	return truncate(legacy)
}

// jsonTxV3 reads v3's tx info: modulation by name, LoRa bandwidth in kHz,
// the code rate as a string.
func (u *bridgeUplink) jsonTxV3(tx jsonObject) error {
	var ok bool
	if u.freqHz, ok = tx.uint("frequency"); !ok {
		return bridgeErr("bad_tx_info", "frequency")
	}
	modu, _, _ := tx.str("modulation")
	switch modu {
	case "LORA", "":
		l, present, ok := tx.object("loRaModulationInfo")
		if !present || !ok {
			return bridgeErr("bad_tx_info", "no loRaModulationInfo")
		}
		var okSF, okBW bool
		var bwKHz uint64
		u.sf, okSF = l.uint("spreadingFactor")
		bwKHz, okBW = l.uint("bandwidth")
		if !okSF || !okBW {
			return bridgeErr("bad_tx_info", "loRaModulationInfo")
		}
		u.modu, u.bwHz = "LORA", bwKHz*1000
		codr, _, _ := l.str("codeRate")
		u.codr = truncate(codr)
	case "FSK":
		f, present, ok := tx.object("fskModulationInfo")
		var okRate bool
		if present && ok {
			u.fskRate, okRate = f.uint("datarate")
		}
		if !okRate {
			return bridgeErr("bad_tx_info", "fskModulationInfo")
		}
		u.modu = "FSK"
	case "LR_FHSS":
		l, present, ok := tx.object("lrFHSSModulationInfo", "lrFhssModulationInfo")
		var okW bool
		if present && ok {
			u.ocwHz, okW = l.uint("operatingChannelWidth")
		}
		if !okW {
			return bridgeErr("bad_tx_info", "lrFHSSModulationInfo")
		}
		u.modu = "LR-FHSS"
		u.codr = jsonCodeRate(l)
	default:
		return bridgeErr("bad_tx_info", "modulation %q", truncate(modu))
	}
	return nil
}
