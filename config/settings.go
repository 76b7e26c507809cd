package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// setting describes one key of the file. The table (settings) is the one
// place a key is stated: the reader knows a mapping's keys from it,
// Default and Parse take defaults from it, check runs its checks, and
// InitText and the settings section of docs/configuration.md print its
// reasons.
type setting struct {
	// Path is where the key is in the file, "delivery.concurrency"; its
	// last part is the key.
	Path string
	// Field returns a pointer to the setting's field in c; its type
	// (*string, *int, *Duration, *ByteSize, **float64, *[]string) says
	// how the value is read. A section has none.
	Field func(c *Config) any
	// Default is the value a file that leaves the key out gets, of the
	// field's type; nil leaves the field's zero value. DefaultFrom computes
	// one that depends on the machine (the buffer's path).
	Default     any
	DefaultFrom func(Dirs) any
	// Example, for a key that has no useful default (the gateway's id, a
	// file to name), is the value config init shows commented out.
	Example string
	// Reason says what the key does and why its default suits a gateway:
	// the comment above it in config init (one line each) and its text in
	// the docs. Along: the reason is the one of the setting before it,
	// printed once above both.
	Reason string
	Along  bool
	// Unit is what a whole number counts, for the message when it is not one.
	Unit string
	// Check finds what is wrong with the value once read; it also runs
	// for configurations built in code (Validate).
	Check check
	// Ignored: a key edgeflow used to take, or an IoT Flow key it does not
	// act on; given, it is accepted with this reason as a warning.
	Ignored string

	// Sections. Optional: the section is left out unless the file gives it
	// (packetForwarder.mqtt), and On tells whether it was; Enter makes it
	// when the file gives it.
	Optional bool
	On       func(c *Config) bool
	Enter    func(c *Config)

	// Lists and other keys with a reader of their own (connections,
	// devices): decode reads the value, init writes its lines in InitText
	// (after the reason).
	decode func(rd *reader, v *yaml.Node, path string, c *Config)
	init   func() []string
}

// check is a setting's rule: fn reports what is wrong with the value v
// (the field's, dereferenced) at path p, and doc says the rule in the docs.
type check struct {
	doc string
	fn  func(ch *checker, p string, v any, c *Config)
}

// key is the last part of the setting's path.
func (s setting) key() string { return last(s.Path) }

// section tells whether the setting is a mapping of other settings.
func (s setting) section() bool { return s.Field == nil && s.decode == nil && s.Ignored == "" }

// settings is the table. Its order is the file's: InitText and the docs
// follow it, and so do the problems of a configuration built in code.
func settings() []setting {
	return slices.Concat(gatewaySettings(), packetForwarderSettings(), bufferSettings(),
		deliverySettings(), apiSettings(), logSettings(), listSettings())
}

func gatewaySettings() []setting {
	return []setting{
		{Path: "gateway"},
		{Path: "gateway.id", Field: func(c *Config) any { return &c.Gateway.ID }, Example: `"AA555A0000000101"`,
			Reason: "The gateway EUI, 16 hex digits. Default: what the packet forwarder reports.",
			Check:  check{"16 hex digits", checkGatewayID}},
		{Path: "gateway.latitude", Field: func(c *Config) any { return &c.Gateway.Latitude }, Example: "48.8566",
			Reason: "Position in degrees and metres, reported as LrrLAT/LrrLON.\nDefault: the GPS position the packet forwarder reports, if any.",
			Check:  floatRange(-90, 90)},
		{Path: "gateway.longitude", Field: func(c *Config) any { return &c.Gateway.Longitude }, Example: "2.3522", Along: true,
			Check: floatRange(-180, 180)},
		{Path: "gateway.altitude", Field: func(c *Config) any { return &c.Gateway.Altitude }, Example: "35", Along: true},
	}
}

func packetForwarderSettings() []setting {
	udp := func(c *Config) *UDP { return &c.PacketForwarder.UDP }
	mqtt := func(c *Config) *MQTT { return c.PacketForwarder.MQTT }
	return []setting{
		{Path: "packetForwarder"},
		{Path: "packetForwarder.udp"},
		{Path: "packetForwarder.udp.bind", Field: func(c *Config) any { return &udp(c).Bind }, Default: DefaultUDPBind,
			Reason: "Where the Semtech UDP packet forwarder sends (serv_port_up and\n" +
				"serv_port_down in its local_conf.json). Loopback, since the forwarder\n" +
				"runs on this gateway and nobody on the network should inject frames.",
			Check: bindCheck(DefaultUDPBind)},
		{Path: "packetForwarder.udp.upstreams", Field: func(c *Config) any { return &udp(c).Upstreams },
			Reason: "Network servers that also get every datagram, unchanged (a raw relay),\n" +
				"e.g. [\"eu1.cloud.thethings.network:1700\"]. None by default.",
			Check: check{"host:port or host:up/down", func(ch *checker, p string, v any, c *Config) {
				for i, u := range v.([]string) {
					checkUpstream(ch, index(p, i), u, c.PacketForwarder.UDP)
				}
			}}},
		{Path: "packetForwarder.udp.allow", Field: func(c *Config) any { return &udp(c).Allow },
			Reason: "Source addresses accepted (IPs or CIDR prefixes such as 192.168.1.0/24).\n" +
				"Empty: loopback only when bound to loopback, anyone otherwise.",
			Check: check{"IP addresses or CIDR prefixes", checkAllow}},
		{Path: "packetForwarder.udp.gatewayEUIs", Field: func(c *Config) any { return &udp(c).GatewayEUIs },
			Reason: "Gateway EUIs accepted (16 hex digits). Empty: any gateway.",
			Check: check{"16 hex digits each", func(ch *checker, p string, v any, _ *Config) {
				for i, s := range v.([]string) {
					if _, msg := parseHex("gatewayEUIs", s, 8); msg != "" {
						ch.problem(index(p, i), "%s", msg)
					}
				}
			}}},
		{Path: "packetForwarder.udp.rateLimit", Field: func(c *Config) any { return &udp(c).RateLimit },
			Unit: "datagrams per second (-1: no limit)",
			Reason: "Datagrams per second accepted from one source, so a flood cannot starve\n" +
				"the agent. 0: the default, 5000/s with a burst of 20000 (a saturated\n" +
				"forwarder sends a few tens); -1: no limit.",
			Check: check{"-1, 0 or more", func(ch *checker, p string, v any, _ *Config) {
				if n := v.(int); n < -1 {
					ch.problem(p, "rateLimit must be positive, 0 for the default or -1 for no limit, got %d", n)
				}
			}}},
		{Path: "packetForwarder.mqtt", Optional: true,
			Reason: "A ChirpStack gateway bridge's MQTT broker as a second source of frames.\n" +
				"Off by default; uncomment to use it.",
			On:    func(c *Config) bool { return c.PacketForwarder.MQTT != nil },
			Enter: func(c *Config) { c.PacketForwarder.MQTT = &MQTT{} }},
		{Path: "packetForwarder.mqtt.server", Field: func(c *Config) any { return &mqtt(c).Server }, Example: `"tcp://127.0.0.1:1883"`,
			Reason: "tcp://, ssl://, ws:// or wss://", Check: check{"a broker URL", checkMQTTServer}},
		{Path: "packetForwarder.mqtt.topics", Field: func(c *Config) any { return &mqtt(c).Topics }, Default: []string{DefaultMQTTTopic},
			Reason: "the default: ChirpStack v4 uplink events",
			Check: check{"each topic not empty", func(ch *checker, p string, v any, _ *Config) {
				for i, t := range v.([]string) {
					if isBlank(t) {
						ch.problem(index(p, i), "a topic may not be empty")
					}
				}
			}}},
		{Path: "packetForwarder.mqtt.username", Field: func(c *Config) any { return &mqtt(c).Username },
			Reason: "when the broker asks for credentials"},
		{Path: "packetForwarder.mqtt.password", Field: func(c *Config) any { return &mqtt(c).Password }, Along: true},
		{Path: "packetForwarder.mqtt.caFile", Field: func(c *Config) any { return &mqtt(c).CAFile },
			Reason: "PEM CA of the broker's certificate (ssl://, wss://)"},
	}
}

func bufferSettings() []setting {
	return []setting{
		{Path: "buffer"},
		{Path: "buffer.path", Field: func(c *Config) any { return &c.Buffer.Path },
			DefaultFrom: func(d Dirs) any { return d.BufferPath() }, Example: `"` + SystemBufferDir + "/" + BufferFile + `"`,
			Reason: "The file that keeps uplinks through outages. Default: " + SystemBufferDir + "/" + BufferFile + "\n" +
				"when that directory is writable, else ~/.local/state/edgeflow/" + BufferFile + " so\n" +
				"that edgeflow runs without root. Use persistent storage, not /tmp.",
			Check: check{"a file on persistent storage", func(ch *checker, p string, v any, _ *Config) {
				if isBlank(v.(string)) {
					ch.problem(p, "path is empty; leave the key out for the default or name a file on persistent storage")
				}
			}}},
		{Path: "buffer.persist", Field: func(c *Config) any { return &c.Buffer.Persist }, Default: DefaultPersist,
			Reason: "\"on-outage\" writes to flash only what is not delivered promptly (spares\n" +
				"the flash); \"always\" writes every uplink before acknowledging it, so it\n" +
				"survives a power cut.",
			Check: enum("persist value", func() []string { return []string{PersistOnOutage, PersistAlways} })},
		{Path: "buffer.maxSize", Field: func(c *Config) any { return &c.Buffer.MaxSize }, Default: ByteSize(DefaultMaxSize),
			Reason: "Space the buffer may take; the oldest uplinks go first when it is full.\n" +
				"64MiB holds days of uplinks from hundreds of devices. At least 1MiB.",
			Check: check{"at least " + ByteSize(MinMaxSize).String(), func(ch *checker, p string, v any, _ *Config) {
				if b := v.(ByteSize); b < MinMaxSize {
					ch.problem(p, "maxSize must be at least %s (%d bytes), got %d bytes", ByteSize(MinMaxSize), int64(MinMaxSize), int64(b))
				}
			}}},
	}
}

func deliverySettings() []setting {
	dl := func(c *Config) *Delivery { return &c.Delivery }
	return []setting{
		{Path: "delivery"},
		{Path: "delivery.retryMin", Field: func(c *Config) any { return &dl(c).RetryMin }, Default: Duration(time.Second),
			Reason: "While an endpoint fails, attempts are spaced by a random wait that\n" +
				"doubles from retryMin up to retryMax (an endpoint's Retry-After wins).",
			Check: check{"more than 0, at most retryMax", func(ch *checker, p string, v any, c *Config) {
				positive(ch, p, v)
				if dl := c.Delivery; dl.RetryMin > dl.RetryMax && dl.RetryMax > 0 {
					ch.problem(p, "retryMin (%s) must not be more than retryMax (%s)", dl.RetryMin, dl.RetryMax)
				}
			}}},
		{Path: "delivery.retryMax", Field: func(c *Config) any { return &dl(c).RetryMax }, Default: Duration(30 * time.Second),
			Along: true, Check: check{"more than 0", positiveCheck}},
		{Path: "delivery.drainRate", Field: func(c *Config) any { return &dl(c).DrainRate }, Default: DefaultDrainRate,
			Unit:   "uplinks per second",
			Reason: "Uplinks per second to one connection when a backlog drains.",
			Check: check{"at least 1", func(ch *checker, p string, v any, _ *Config) {
				if n := v.(int); n <= 0 {
					ch.problem(p, "drainRate must be at least 1 uplink per second, got %d", n)
				}
			}}},
		{Path: "delivery.spillAfter", Field: func(c *Config) any { return &dl(c).SpillAfter }, Default: Duration(5 * time.Second),
			Reason: "With persist \"on-outage\": an uplink not delivered within this time\nis written to flash.",
			Check:  check{"more than 0", positiveCheck}},
		{Path: "delivery.timeout", Field: func(c *Config) any { return &dl(c).Timeout }, Default: Duration(15 * time.Second),
			Reason: "The longest one request to an endpoint may take.",
			Check:  check{"more than 0", positiveCheck}},
		{Path: "delivery.mergeWindow", Field: func(c *Config) any { return &dl(c).MergeWindow },
			// Copies of a frame from a second antenna or gateway arrive
			// within a few hundred milliseconds.
			Default: Duration(400 * time.Millisecond),
			Reason: "How long an uplink waits before it is sent, so that copies of its frame\n" +
				"from other antennas, gateways or datagrams join it in Lrrs. 0: at once.",
			Check: check{"from 0 to 10s", func(ch *checker, p string, v any, _ *Config) {
				if d := v.(Duration); d < 0 || d > Duration(10*time.Second) {
					ch.problem(p, "mergeWindow must be from 0 to 10s, got %s", d)
				}
			}}},
		{Path: "delivery.batchWait", Field: func(c *Config) any { return &dl(c).BatchWait },
			// Measured side by side, armv7 under qemu at 10 uplinks/s:
			// batches of about four cost 11-24 % less CPU per uplink
			// than one at a time (docs/decisions/batch-wait.md).
			Default: Duration(400 * time.Millisecond),
			Reason: "How much longer than mergeWindow an uplink may wait for the uplinks\n" +
				"arriving behind it, so that they leave together: requests sent and\n" +
				"answered at one wakeup cost a gateway's CPU less than one at a time.\n" +
				"Only when the next uplink is due within it: at a slower pace an\n" +
				"uplink leaves when its window ends. 0: each leaves at its window's end.",
			Check: check{"from 0 to 10s", func(ch *checker, p string, v any, _ *Config) {
				if d := v.(Duration); d < 0 || d > Duration(10*time.Second) {
					ch.problem(p, "batchWait must be from 0 to 10s, got %s", d)
				}
			}}},
		{Path: "delivery.concurrency", Field: func(c *Config) any { return &dl(c).Concurrency }, Default: DefaultConcurrency,
			Unit: "requests",
			Reason: "Requests in flight at once to one HTTP connection's endpoint (HTTP/2\n" +
				"streams, or as many HTTP/1.1 connections): an endpoint that takes 200 ms\n" +
				"per request takes up to concurrency / 0.2 s uplinks/s. 1: one at a time.\n" +
				"(It replaces delivery.pipeline.)",
			Check: check{"from 1 to 256", func(ch *checker, p string, v any, _ *Config) {
				if n := v.(int); n < 1 || n > 256 {
					ch.problem(p, "concurrency must be from 1 to 256 requests, got %d", n)
				}
			}}},
		{Path: "delivery.pipeline", Ignored: fmt.Sprintf("HTTP/1.1 pipelining is gone; delivery.concurrency (requests in flight per connection, default %d) replaced it", DefaultConcurrency)},
	}
}

func apiSettings() []setting {
	return []setting{
		{Path: "api"},
		{Path: "api.bind", Field: func(c *Config) any { return &c.API.Bind }, Default: DefaultAPIBind,
			Reason: "The local REST API (connections, status, metrics). Loopback, because it\n" +
				"changes where uplinks go; bind it elsewhere only with a token.",
			Check: bindCheck(DefaultAPIBind)},
		{Path: "api.token", Field: func(c *Config) any { return &c.API.Token },
			Reason: "The token every API request but /healthz and the page must carry, at\n" +
				"least 16 characters (openssl rand -hex 16). Empty: none (fine on loopback).",
			Check: check{fmt.Sprintf("empty or at least %d characters", MinTokenLength), checkToken}},
		{Path: "api.hosts", Field: func(c *Config) any { return &c.API.Hosts },
			Reason: "Host names besides localhost and the bind address that the API answers\n" +
				"to (a reverse proxy's, the gateway's LAN name); others are refused.",
			Check: check{"host names", func(ch *checker, p string, v any, _ *Config) {
				for i, h := range v.([]string) {
					if h == "" || strings.ContainsAny(h, ":/") || !validHost(h) {
						ch.problem(index(p, i), "%q is not a host name; give the name alone, without scheme or port (e.g. gateway.lan)", clip(h))
					}
				}
			}}},
		{Path: "api.caFileDir", Field: func(c *Config) any { return &c.API.CAFileDir },
			Reason: "The directory under which connections sent to the API may name a caFile.\n" +
				"Empty: the API refuses caFile (it runs as root); the file may name any.",
			Check: check{"empty or an absolute directory", func(ch *checker, p string, v any, _ *Config) {
				if d := v.(string); d != "" && !filepath.IsAbs(d) {
					ch.problem(p, "caFileDir must be an absolute directory, e.g. /etc/edgeflow/ca; got %q", clip(d))
				}
			}}},
	}
}

func logSettings() []setting {
	return []setting{
		{Path: "log"},
		{Path: "log.level", Field: func(c *Config) any { return &c.Log.Level }, Default: DefaultLogLevel,
			Reason: "debug, info, warn or error. info logs starts, outages and recoveries,\n" +
				"not every uplink, so syslog does not fill the flash.",
			Check: enum("log level", LogLevels)},
	}
}
