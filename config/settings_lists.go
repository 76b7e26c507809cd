package config

import "go.yaml.in/yaml/v3"

// listSettings are the top-level lists and the devices file. A list's
// items have keys of their own (schema.go: connectionKeys; device_keys.go),
// which depend on the connector for a connection's configuration; they are
// decoded by load.go and checked by connection.go and validate.go.
func listSettings() []setting {
	return []setting{
		{Path: "connections", Default: []Connection{DefaultConnection()},
			Field: func(c *Config) any { return &c.Connections },
			Reason: "Where uplinks go: IoT Flow connection objects. The default is IoT Flow's\n" +
				"Cayenne connection. Each connection may have an \"id\"; without one it gets\n" +
				"one from its name (\"Actility To Cayenne\" -> \"actility-to-cayenne\").\n" +
				"\"active\": false (default: true) keeps queuing its uplinks on flash but\n" +
				"sends none until it is true again; the API shows it DEACTIVATED with its\n" +
				"backlog.\n" +
				"Optional configuration keys of every connection: description,\n" +
				"uplinkTimeValidity (e.g. \"72h\", \"2d\": older uplinks are dropped; default:\n" +
				"none), reconnectStrategy (CALM, NORMAL or AGGRESSIVE: IoT Flow's retry\n" +
				"schedules; default: retry within seconds, backing off to delivery.retryMax)\n" +
				"and customerId (the document's CustomerID; default \"0\").\n" +
				"actility-http-iot: destinationURL (for brand CAYENNE it may be left out),\n" +
				"headers ({\"X-Thing\": \"{DevEUI}\"}: values may hold {DevEUI}, {DevAddr},\n" +
				"{FPort}, {FCntUp}), lrcCompliance (true adds ThingPark's LrnDevEui, LrnFPort,\n" +
				"LrnInfos, AS_ID and Time query parameters), asId (AS_ID, default\n" +
				"\"edgeflow\"), lrnInfos (LrnInfos, default the gateway EUI) and\n" +
				"tunnelInterfaceAuthenticationKey (32 hex, ThingPark's TIAK: adds the Token)\n" +
				"and proxy ({\"hostname\": \"proxy.lan:3128\", \"username\": …, \"password\": …}: this\n" +
				"connection's HTTP proxy; default: HTTPS_PROXY/NO_PROXY of the environment)\n" +
				"and caFile (absolute path of a PEM file of the CA that signs the endpoint's\n" +
				"certificate; default: the system's roots, or edgeflow's own set when the\n" +
				"gateway has none. Certificates are always verified).\n" +
				"actility-mqtt-iot: hostName (host:port), protocol (TCP, SSL or WSS; default\n" +
				"TCP), username, password, uplinkTopicPattern (default\n" +
				"\"mqtt/things/{DevEUI}/uplink\"), trustedCaCertficate (IoT Flow's spelling,\n" +
				"or trustedCaCertificate: the CA's PEM), certificate, privateKey (PEM text),\n" +
				"connectionTimeout (ms, default 5000) and actionTimeout (ms, default 1000).",
			Check: check{"see [connectors.md](connectors.md)", func(ch *checker, _ string, _ any, c *Config) { c.checkConnections(ch) }},
			decode: func(rd *reader, v *yaml.Node, p string, c *Config) {
				c.Connections = nil // the file's list replaces the default one
				for i, it := range rd.seq(v, p, "connection") {
					c.Connections = append(c.Connections, rd.connection(it, index(p, i)))
				}
			},
			init: func() []string {
				lines := []string{"connections:"}
				for _, c := range []Connection{DefaultConnection()} {
					lines = append(lines, "  - "+connectionJSON(c))
				}
				return lines
			}},
		{Path: "devices", Field: func(c *Config) any { return &c.Devices },
			Reason: "The devices whose uplinks are decoded. Keys are hex: devEUI, joinEUI and\n" +
				"devAddr as printed on the label, keys as 32 hex digits. None by default.",
			Check: check{"see [forwarding.md](forwarding.md)", func(ch *checker, _ string, _ any, c *Config) { c.checkDevices(ch) }},
			decode: func(rd *reader, v *yaml.Node, p string, c *Config) {
				for i, it := range rd.seq(v, p, "device") {
					c.Devices = append(c.Devices, rd.device(it, index(p, i)))
				}
			},
			init: func() []string {
				return []string{
					"devices: []",
					"# devices:",
					"#   - devEUI: \"70B3D57ED0000001\"     # ABP: address and session keys",
					"#     devAddr: \"260B0001\"",
					"#     nwkSKey: \"000102030405060708090A0B0C0D0E0F\"",
					"#     appSKey: \"000102030405060708090A0B0C0D0E0F\"",
					"#     relaxFCnt: false              # true if the device restarts its counter at power-up",
					"#     payloadFormat: auto           # readings on the page: auto, cayenne-lpp or hex",
					"#   - devEUI: \"70B3D57ED0000002\"     # OTAA: the session is learnt from its join",
					"#     joinEUI: \"70B3D57ED0000000\"    # (or appEUI, its LoRaWAN 1.0 name)",
					"#     appKey: \"000102030405060708090A0B0C0D0E0F\"",
					"#     # nwkKey: \"…32 hex…\"         # LoRaWAN 1.1 devices only, with appKey",
					"#     name: \"cold room\"",
				}
			}},
		{Path: "devicesFile", Field: func(c *Config) any { return &c.DevicesFile }, Example: `"/etc/edgeflow/devices.csv"`,
			Reason: "A CSV file of further devices, re-read when it changes: a header row naming the columns\n" +
				"(devEUI,activation,devAddr,nwkSKey,appSKey,joinEUI,appKey,name,relaxFCnt), or ThingPark's\n" +
				"device import file (its CREATE_OTAA rows). A relative path follows this file. Default: none."},
	}
}
