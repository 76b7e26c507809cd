// Package config owns edgeflow's configuration file: its types, the defaults
// (each with the reason it suits a gateway), YAML loading with line numbers,
// validation that reports every problem at once, and atomic write-back.
package config

import (
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
}

// API is the local REST API.
type API struct {
	Bind  string `yaml:"bind"`
	Token string `yaml:"token"`
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

// ConnectionConfiguration holds the connector's parameters.
type ConnectionConfiguration struct {
	DestinationURL     string            `yaml:"destinationURL,omitempty" json:"destinationURL,omitempty"`
	Description        string            `yaml:"description,omitempty" json:"description,omitempty"`
	Headers            map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	UplinkTimeValidity Duration          `yaml:"uplinkTimeValidity,omitempty" json:"uplinkTimeValidity,omitempty"`
	ReconnectStrategy  string            `yaml:"reconnectStrategy,omitempty" json:"reconnectStrategy,omitempty"`
}

// Connector ids and brands edgeflow knows.
const (
	ConnectorHTTP = "actility-http-iot"
	BrandCayenne  = "CAYENNE"
	// CayenneURL is the destination IoT Flow prescribes for brand CAYENNE.
	CayenneURL = "https://lora.mydevices.com/v1/networks/actility/uplink"
)

// Device is one device whose uplinks edgeflow decodes. ABP devices give
// devAddr, nwkSKey and appSKey; OTAA devices give joinEUI and appKey.
type Device struct {
	DevEUI  lorawan.EUI64     `yaml:"devEUI"`
	DevAddr lorawan.DevAddr   `yaml:"devAddr"`
	NwkSKey lorawan.AES128Key `yaml:"nwkSKey"`
	AppSKey lorawan.AES128Key `yaml:"appSKey"`
	JoinEUI lorawan.EUI64     `yaml:"joinEUI"`
	AppKey  lorawan.AES128Key `yaml:"appKey"`
	Name    string            `yaml:"name"`
	// RelaxFCnt accepts a frame counter that went back, for ABP devices
	// that restart their counter at every power-up; it gives up replay
	// protection for that device.
	RelaxFCnt bool `yaml:"relaxFCnt"`
	// ABP tells that devAddr and the session keys were given (keys of all
	// zeros included); Validate trusts it for configs built in code.
	ABP bool `yaml:"-"`
}

// Duration is a time.Duration written as "30s", "5m", "72h" or "2d".
type Duration time.Duration

// ByteSize is a size written as 268435456, "256MiB", "256MB" or "64KiB".
type ByteSize int64
