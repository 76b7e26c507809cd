package config

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// InitText is what `edgeflow config init` prints: every key with its
// default and the reason for it. It parses without a problem into the same
// configuration as Default (a test holds it to that). Keys without a fixed
// default (the gateway's id, the buffer path that depends on the machine)
// are shown commented out.
func InitText() string {
	var b strings.Builder
	w := func(lines ...string) {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	q := strconv.Quote
	w(
		"# edgeflow configuration — `edgeflow config init` prints this file.",
		"#",
		"# Every key is shown with its default. Leave a key out (or delete it) to",
		"# keep the default. Indent with spaces, never tabs. `edgeflow config validate",
		"# --config FILE` lists every problem with its line before you restart.",
		"# JSON is YAML too: an IoT Flow connection object pastes in as it is.",
		"# Relative paths are taken from this file's directory.",
		"",
		"gateway:",
		"  # The gateway EUI, 16 hex digits. Default: what the packet forwarder reports.",
		"  # id: \"AA555A0000000101\"",
		"  # Position in degrees and metres, reported as LrrLAT/LrrLON.",
		"  # Default: the GPS position the packet forwarder reports, if any.",
		"  # latitude: 48.8566",
		"  # longitude: 2.3522",
		"  # altitude: 35",
		"",
		"packetForwarder:",
		"  udp:",
		"    # Where the Semtech UDP packet forwarder sends (serv_port_up and",
		"    # serv_port_down in its local_conf.json). Loopback, since the forwarder",
		"    # runs on this gateway and nobody on the network should inject frames.",
		"    bind: "+q(DefaultUDPBind),
		"    # Network servers that also get every datagram, unchanged (a raw relay),",
		"    # e.g. [\"eu1.cloud.thethings.network:1700\"]. None by default.",
		"    upstreams: []",
		"    # Source addresses accepted (IPs or CIDR prefixes such as 192.168.1.0/24).",
		"    # Empty: loopback only when bound to loopback, anyone otherwise.",
		"    allow: []",
		"    # Gateway EUIs accepted (16 hex digits). Empty: any gateway.",
		"    gatewayEUIs: []",
		"    # Datagrams per second accepted from one source, so a flood cannot starve",
		"    # the agent. 0: the default, 5000/s with a burst of 20000 (a saturated",
		"    # forwarder sends a few tens); -1: no limit.",
		"    rateLimit: 0",
		"  # A ChirpStack gateway bridge's MQTT broker as a second source of frames.",
		"  # Off by default; uncomment to use it.",
		"  # mqtt:",
		"  #   server: \"tcp://127.0.0.1:1883\"   # tcp://, ssl://, ws:// or wss://",
		"  #   topics: ["+q(DefaultMQTTTopic)+"]   # the default: ChirpStack v4 uplink events",
		"  #   username: \"\"",
		"  #   password: \"\"",
		"  #   caFile: \"\"                      # PEM CA of the broker's certificate (ssl://, wss://)",
		"",
		"buffer:",
		"  # The file that keeps uplinks through outages. Default: "+SystemBufferDir+"/"+BufferFile,
		"  # when that directory is writable, else ~/.local/state/edgeflow/"+BufferFile+" so",
		"  # that edgeflow runs without root. Use persistent storage, not /tmp.",
		"  # path: "+q(SystemBufferDir+"/"+BufferFile),
		"  # \"on-outage\" writes to flash only what is not delivered promptly (spares",
		"  # the flash); \"always\" writes every uplink before acknowledging it, so it",
		"  # survives a power cut.",
		"  persist: "+q(DefaultPersist),
		"  # Space the buffer may take; the oldest uplinks go first when it is full.",
		"  # 64MiB holds days of uplinks from hundreds of devices. At least 1MiB.",
		"  maxSize: "+q(DefaultMaxSize.String()),
		"",
		"delivery:",
		"  # While an endpoint fails, attempts are spaced by a random wait that",
		"  # doubles from retryMin up to retryMax (an endpoint's Retry-After wins).",
		"  retryMin: "+q(Duration(time.Second).String()),
		"  retryMax: "+q(Duration(30*time.Second).String()),
		"  # Uplinks per second to one connection when a backlog drains.",
		"  drainRate: "+strconv.Itoa(DefaultDrainRate),
		"  # With persist \"on-outage\": an uplink not delivered within this time",
		"  # is written to flash.",
		"  spillAfter: "+q(Duration(5*time.Second).String()),
		"  # The longest one request to an endpoint may take.",
		"  timeout: "+q(Duration(15*time.Second).String()),
		"  # How long an uplink waits before it is sent, so that copies of its frame",
		"  # from other antennas, gateways or datagrams join it in Lrrs. 0: at once.",
		"  mergeWindow: "+q(Duration(400*time.Millisecond).String()),
		"  # Requests in flight at once to one HTTP connection's endpoint (HTTP/2",
		"  # streams, or as many HTTP/1.1 connections): an endpoint that takes 200 ms",
		"  # per request takes up to concurrency / 0.2 s uplinks/s. 1: one at a time.",
		"  # (It replaces delivery.pipeline.)",
		"  concurrency: "+strconv.Itoa(DefaultConcurrency),
		"",
		"api:",
		"  # The local REST API (connections, status, metrics). Loopback, because it",
		"  # changes where uplinks go; bind it elsewhere only with a token.",
		"  bind: "+q(DefaultAPIBind),
		"  # The token every API request but /healthz and the page must carry, at",
		"  # least 16 characters (openssl rand -hex 16). Empty: none (fine on loopback).",
		"  token: \"\"",
		"  # Host names besides localhost and the bind address that the API answers",
		"  # to (a reverse proxy's, the gateway's LAN name); others are refused.",
		"  hosts: []",
		"  # The directory under which connections sent to the API may name a caFile.",
		"  # Empty: the API refuses caFile (it runs as root); the file may name any.",
		"  caFileDir: \"\"",
		"",
		"log:",
		"  # debug, info, warn or error. info logs starts, outages and recoveries,",
		"  # not every uplink, so syslog does not fill the flash.",
		"  level: "+q(DefaultLogLevel),
		"",
		"# Where uplinks go: IoT Flow connection objects. The default is IoT Flow's",
		"# Cayenne connection. Each connection may have an \"id\"; without one it gets",
		"# one from its name (\"Actility To Cayenne\" -> \"actility-to-cayenne\").",
		"# \"active\": false (default: true) keeps queuing its uplinks on flash but",
		"# sends none until it is true again; the API shows it DEACTIVATED with its",
		"# backlog.",
		"# Optional configuration keys of every connection: description,",
		"# uplinkTimeValidity (e.g. \"72h\", \"2d\": older uplinks are dropped; default:",
		"# none), reconnectStrategy (CALM, NORMAL or AGGRESSIVE: IoT Flow's retry",
		"# schedules; default: retry within seconds, backing off to delivery.retryMax)",
		"# and customerId (the document's CustomerID; default \"0\").",
		"# actility-http-iot: destinationURL (for brand CAYENNE it may be left out),",
		"# headers ({\"X-Thing\": \"{DevEUI}\"}: values may hold {DevEUI}, {DevAddr},",
		"# {FPort}, {FCntUp}), lrcCompliance (true adds ThingPark's LrnDevEui, LrnFPort,",
		"# LrnInfos, AS_ID and Time query parameters), asId (AS_ID, default",
		"# \"edgeflow\"), lrnInfos (LrnInfos, default the gateway EUI) and",
		"# tunnelInterfaceAuthenticationKey (32 hex, ThingPark's TIAK: adds the Token)",
		"# and proxy ({\"hostname\": \"proxy.lan:3128\", \"username\": …, \"password\": …}: this",
		"# connection's HTTP proxy; default: HTTPS_PROXY/NO_PROXY of the environment)",
		"# and caFile (absolute path of a PEM file of the CA that signs the endpoint's",
		"# certificate; default: the system's roots, or edgeflow's own set when the",
		"# gateway has none. Certificates are always verified).",
		"# actility-mqtt-iot: hostName (host:port), protocol (TCP, SSL or WSS; default",
		"# TCP), username, password, uplinkTopicPattern (default",
		"# \"mqtt/things/{DevEUI}/uplink\"), trustedCaCertficate (IoT Flow's spelling,",
		"# or trustedCaCertificate: the CA's PEM), certificate, privateKey (PEM text),",
		"# connectionTimeout (ms, default 5000) and actionTimeout (ms, default 1000).",
		"connections:",
	)
	for _, c := range Default().Connections {
		c.ID = "" // derived again from the name; keeps the line as IoT Flow shows it
		w("  - " + connectionJSON(c))
	}
	w(
		"",
		"# The devices whose uplinks are decoded. Keys are hex: devEUI, joinEUI and",
		"# devAddr as printed on the label, keys as 32 hex digits. None by default.",
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
		"",
		"# A CSV file of further devices, re-read when it changes: a header row naming the columns",
		"# (devEUI,activation,devAddr,nwkSKey,appSKey,joinEUI,appKey,name,relaxFCnt), or ThingPark's",
		"# device import file (its CREATE_OTAA rows). A relative path follows this file. Default: none.",
		"# devicesFile: \"/etc/edgeflow/devices.csv\"",
	)
	return b.String()
}

// connectionJSON writes a connection as one line of JSON, the form IoT Flow
// shows and technicians paste, with its keys in IoT Flow's order.
func connectionJSON(c Connection) string {
	b, err := marshalJSON(c)
	if err != nil {
		return "{}" // a Connection has nothing json cannot encode
	}
	return string(b)
}

func marshalJSON(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs with & stay readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}
