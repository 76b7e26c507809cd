package config

import (
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/brocaar/lorawan"
)

// Config is the whole configuration file. Key names are the contract of
// ../shared/docs/design.md; every JSON object is valid YAML, so an IoT Flow
// connection body pastes in verbatim under connections.
type Config struct {
	Gateway         Gateway         `yaml:"gateway"`
	PacketForwarder PacketForwarder `yaml:"packetForwarder"`
	Buffer          Buffer          `yaml:"buffer"`
	Delivery        Delivery        `yaml:"delivery"`
	API             API             `yaml:"api"`
	Log             Log             `yaml:"log"`
	Connections     []Connection    `yaml:"connections"`
	Devices         []Device        `yaml:"devices"`
	DevicesFile     string          `yaml:"devicesFile"`

	// Path is the file this configuration was read from ("" for defaults).
	Path string `yaml:"-"`
}

// Gateway describes the gateway itself; empty fields default to what the
// packet forwarder reports.
type Gateway struct {
	ID        string   `yaml:"id"` // 16 hex digits, the gateway EUI
	Latitude  *float64 `yaml:"latitude"`
	Longitude *float64 `yaml:"longitude"`
	Altitude  *float64 `yaml:"altitude"`
}

// PacketForwarder lists the frame sources.
type PacketForwarder struct {
	UDP  UDP   `yaml:"udp"`
	MQTT *MQTT `yaml:"mqtt"`
}

// UDP is the Semtech UDP (GWMP) listener.
type UDP struct {
	Bind      string   `yaml:"bind"`
	Upstreams []string `yaml:"upstreams"`
	// Allow lists the source addresses (IPs or CIDR prefixes) accepted;
	// empty: loopback only when bound to loopback, anyone otherwise.
	Allow []string `yaml:"allow"`
	// GatewayEUIs lists the gateways accepted; empty: any.
	GatewayEUIs []string `yaml:"gatewayEUIs"`
	// RateLimit is the datagrams per second accepted from one source;
	// 0 takes the default (5,000/s with a burst of 20,000, far above a
	// saturated forwarder), -1 switches the limit off.
	RateLimit int `yaml:"rateLimit"`
}

// AllowPrefixes returns Allow parsed (after validation every entry parses).
func (u UDP) AllowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range u.Allow {
		if p, ok := parsePrefix(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// GatewayEUIList returns GatewayEUIs parsed.
func (u UDP) GatewayEUIList() []lorawan.EUI64 {
	var out []lorawan.EUI64
	for _, s := range u.GatewayEUIs {
		var e lorawan.EUI64
		if err := e.UnmarshalText([]byte(s)); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// parsePrefix reads "10.0.0.0/8" or a single address.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// MQTT is a gateway bridge's broker to subscribe to.
type MQTT struct {
	Server   string   `yaml:"server"`
	Topics   []string `yaml:"topics"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	CAFile   string   `yaml:"caFile"`
}

// Buffer is the durable store of uplinks on flash.
type Buffer struct {
	Path    string   `yaml:"path"`
	Persist string   `yaml:"persist"` // PersistOnOutage or PersistAlways
	MaxSize ByteSize `yaml:"maxSize"`
}

// Persistence modes of buffer.persist.
const (
	PersistOnOutage = "on-outage"
	PersistAlways   = "always"
)

// Delivery tunes how uplinks are sent to every connection's endpoint.
type Delivery struct {
	// RetryMin and RetryMax bound the full-jitter exponential backoff
	// between attempts while an endpoint fails.
	RetryMin Duration `yaml:"retryMin"`
	RetryMax Duration `yaml:"retryMax"`
	// DrainRate bounds the uplinks per second sent to one connection, so
	// that a backlog does not flood an endpoint that just recovered.
	DrainRate int `yaml:"drainRate"`
	// SpillAfter: with persist on-outage, an uplink not delivered within
	// this time is written to flash.
	SpillAfter Duration `yaml:"spillAfter"`
	// Timeout bounds one request to an endpoint.
	Timeout Duration `yaml:"timeout"`
	// MergeWindow is how long an uplink waits before it is sent, so that
	// copies of its frame from other antennas, gateways or datagrams join
	// it (every reception in Lrrs). 0 sends at once.
	MergeWindow Duration `yaml:"mergeWindow"`
	// BatchWait is how much longer than MergeWindow an uplink may wait
	// for the uplinks arriving behind it, so that they leave together.
	BatchWait Duration `yaml:"batchWait"`
	// Concurrency is how many requests an HTTP connection has in flight
	// (HTTP/2 streams, or several HTTP/1.1 connections); 1 waits for each
	// answer before the next.
	Concurrency int `yaml:"concurrency"`
}

// API is the local REST API.
type API struct {
	Bind  string `yaml:"bind"`
	Token string `yaml:"token"`
	// Hosts are the host names, besides loopback ones and the bind
	// address, that requests may be addressed to (the Host header): the
	// name of a reverse proxy or the gateway's LAN name. Any other name is
	// refused, so that a web page cannot reach the API by DNS rebinding.
	Hosts []string `yaml:"hosts"`
	// CAFileDir is the directory under which a connection created or
	// changed through the API may name its caFile; "" (the default)
	// refuses caFile through the API, which runs as root and would
	// otherwise read any file it is given. The file itself may name any.
	CAFileDir string `yaml:"caFileDir"`
}

// Log sets what the agent logs.
type Log struct {
	Level string `yaml:"level"` // debug, info, warn, error
}

// Connection is an IoT Flow connection object.
type Connection struct {
	ID            string                  `yaml:"id,omitempty" json:"id,omitempty"`
	Name          string                  `yaml:"name" json:"name"`
	ConnectorID   string                  `yaml:"connectorId" json:"connectorId"`
	Brand         string                  `yaml:"brand,omitempty" json:"brand,omitempty"`
	Active        *bool                   `yaml:"active,omitempty" json:"active,omitempty"`
	Configuration ConnectionConfiguration `yaml:"configuration" json:"configuration"`
}

// IsActive tells whether the connection delivers (IoT Flow's default is true).
func (c Connection) IsActive() bool { return c.Active == nil || *c.Active }

// ConnectionConfiguration holds the connector's parameters: IoT Flow's
// names, for actility-http-iot and actility-mqtt-iot together (each
// connector's file section accepts only its own; see schema.go).
type ConnectionConfiguration struct {
	// Common parameters.
	Description        string   `yaml:"description,omitempty" json:"description,omitempty"`
	UplinkTimeValidity Duration `yaml:"uplinkTimeValidity,omitempty" json:"uplinkTimeValidity,omitempty"`
	ReconnectStrategy  string   `yaml:"reconnectStrategy,omitempty" json:"reconnectStrategy,omitempty"`
	// CustomerID is the document's CustomerID (and so part of the Token);
	// edgeflow's key, IoT Flow takes it from the subscriber. Empty is "0".
	CustomerID string `yaml:"customerId,omitempty" json:"customerId,omitempty"`

	// actility-http-iot.
	DestinationURL string            `yaml:"destinationURL,omitempty" json:"destinationURL,omitempty"`
	Headers        map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// LRCCompliance adds ThingPark's tunnel interface query parameters
	// (IoT Flow's "Basic HTTP compliance").
	LRCCompliance bool `yaml:"lrcCompliance,omitempty" json:"lrcCompliance,omitempty"`
	// TunnelInterfaceAuthenticationKey (32 hex) adds the Token.
	TunnelInterfaceAuthenticationKey string `yaml:"tunnelInterfaceAuthenticationKey,omitempty" json:"tunnelInterfaceAuthenticationKey,omitempty"`
	// ASID and LrnInfos are the AS_ID and LrnInfos parameters; edgeflow's
	// keys (ThingPark sets them from its own provisioning). ASID defaults
	// to DefaultASID, LrnInfos to the gateway's EUI.
	ASID     string `yaml:"asId,omitempty" json:"asId,omitempty"`
	LrnInfos string `yaml:"lrnInfos,omitempty" json:"lrnInfos,omitempty"`
	// CAFile names a PEM file of the CA(s) that sign this connection's
	// endpoint certificate (a private cloud, a test bench); without it the
	// system's roots, or edgeflow's embedded set on gateways that have none.
	CAFile string `yaml:"caFile,omitempty" json:"caFile,omitempty"`
	// Proxy is IoT Flow's per-connection HTTP proxy; without it,
	// HTTPS_PROXY/NO_PROXY of the service's environment apply.
	Proxy *Proxy `yaml:"proxy,omitempty" json:"proxy,omitempty"`

	// actility-mqtt-iot.
	HostName           string `yaml:"hostName,omitempty" json:"hostName,omitempty"`
	Protocol           string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Username           string `yaml:"username,omitempty" json:"username,omitempty"`
	Password           string `yaml:"password,omitempty" json:"password,omitempty"`
	UplinkTopicPattern string `yaml:"uplinkTopicPattern,omitempty" json:"uplinkTopicPattern,omitempty"`
	// TrustedCACertificate is spelt in the file as IoT Flow spells it,
	// trustedCaCertficate; the correct spelling is accepted too.
	TrustedCACertificate string `yaml:"trustedCaCertficate,omitempty" json:"trustedCaCertficate,omitempty"`
	Certificate          string `yaml:"certificate,omitempty" json:"certificate,omitempty"`
	PrivateKey           string `yaml:"privateKey,omitempty" json:"privateKey,omitempty"`
	// ConnectionTimeout and ActionTimeout are milliseconds, as in IoT
	// Flow; 0 takes the defaults (DefaultMQTTConnectionTimeout,
	// DefaultMQTTActionTimeout).
	ConnectionTimeout int `yaml:"connectionTimeout,omitempty" json:"connectionTimeout,omitempty"`
	ActionTimeout     int `yaml:"actionTimeout,omitempty" json:"actionTimeout,omitempty"`
}

// Proxy is an HTTP proxy for one connection, as IoT Flow's HTTP connector
// has it: hostname ("proxy.lan:3128" or "http://proxy.lan:3128"), and
// credentials when the proxy asks for them.
type Proxy struct {
	Hostname string `yaml:"hostname" json:"hostname"`
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
}

// URL is the proxy as a URL (http:// when the hostname has no scheme),
// with its credentials; nil when hostname is empty or does not parse.
func (p *Proxy) URL() *url.URL {
	if p == nil || p.Hostname == "" {
		return nil
	}
	s := p.Hostname
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil
	}
	if p.Username != "" {
		u.User = url.UserPassword(p.Username, p.Password)
	}
	return u
}

// Connector ids and brands edgeflow knows.
const (
	ConnectorHTTP = "actility-http-iot"
	ConnectorMQTT = "actility-mqtt-iot"
	BrandCayenne  = "CAYENNE"
	// CayenneURL is the destination IoT Flow prescribes for brand CAYENNE.
	CayenneURL = "https://lora.mydevices.com/v1/networks/actility/uplink"

	// DefaultASID is AS_ID when lrcCompliance is on and asId is not given.
	DefaultASID = "edgeflow"
	// DefaultMQTTTopicPattern is IoT Flow's example uplink topic.
	DefaultMQTTTopicPattern = "mqtt/things/{DevEUI}/uplink"
	// IoT Flow's MQTT timeouts, milliseconds: defaults and the maximum.
	DefaultMQTTConnectionTimeout = 5000
	DefaultMQTTActionTimeout     = 1000
	MaxMQTTTimeout               = 10000
)

// MQTT protocols of actility-mqtt-iot.
const (
	ProtocolTCP = "TCP"
	ProtocolSSL = "SSL"
	ProtocolWSS = "WSS"
)

// Device is one device as the file lists it (devices:, or a row of the
// devicesFile): the keys with which edgeflow checks and decrypts its
// frames. ABP devices give devAddr, nwkSKey and appSKey; OTAA devices give
// joinEUI and appKey.
type Device struct {
	DevEUI  lorawan.EUI64     `yaml:"devEUI"`
	DevAddr lorawan.DevAddr   `yaml:"devAddr"`
	NwkSKey lorawan.AES128Key `yaml:"nwkSKey"`
	AppSKey lorawan.AES128Key `yaml:"appSKey"`
	JoinEUI lorawan.EUI64     `yaml:"joinEUI"`
	AppKey  lorawan.AES128Key `yaml:"appKey"`
	// NwkKey is a LoRaWAN 1.1 device's second root key (with appKey);
	// leave it out for a 1.0 device.
	NwkKey lorawan.AES128Key `yaml:"nwkKey"`
	Name   string            `yaml:"name"`
	// RelaxFCnt accepts a frame counter that went back, for ABP devices
	// that restart their counter at every power-up; it gives up replay
	// protection for that device.
	RelaxFCnt bool `yaml:"relaxFCnt"`
	// PayloadFormat tells how the status page and the API show the
	// device's payload (the endpoints always get it unchanged):
	// PayloadAuto (""), PayloadCayenneLPP or PayloadHex.
	PayloadFormat string `yaml:"payloadFormat"`
	// ABP tells that devAddr and the session keys were given (keys of all
	// zeros included); Validate trusts it for configs built in code.
	ABP bool `yaml:"-"`
}

// Payload formats (devices[].payloadFormat).
const (
	// PayloadAuto shows readings when the payload is Cayenne LPP
	// throughout and an active connection has brand CAYENNE (Cayenne reads
	// such payloads as LPP); hex otherwise.
	PayloadAuto = "auto"
	// PayloadCayenneLPP always reads the payload as Cayenne LPP, and says
	// why when it is not.
	PayloadCayenneLPP = "cayenne-lpp"
	// PayloadHex never decodes: for a device with a format of its own that
	// would happen to read as LPP.
	PayloadHex = "hex"
)

// PayloadFormats lists the values devices[].payloadFormat takes.
func PayloadFormats() []string { return []string{PayloadAuto, PayloadCayenneLPP, PayloadHex} }

// Duration is a time.Duration written as "30s", "5m", "72h" or "2d".
type Duration time.Duration

// ByteSize is a size written as 268435456, "256MiB", "256MB" or "64KiB".
type ByteSize int64
