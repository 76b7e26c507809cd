package api

import (
	"context"
	"io"
	"time"

	"edgeflow/config"
)

// Backend is what the API needs of the running agent.
type Backend interface {
	// Config is the configuration in force; the API does not change it.
	Config() *config.Config
	// UpdateConnections runs change on a copy of the connections in force
	// and applies the list it returns: validated as a whole, written back to
	// the configuration file, applied at once. Calls are serialised, so
	// change sees the result of the previous one. A *config.Error means the
	// new list is not valid and nothing changed.
	UpdateConnections(ctx context.Context, change func([]config.Connection) ([]config.Connection, error)) (Update, error)
	// ConnectionStates tells each configured connection's delivery state,
	// by connection id.
	ConnectionStates() map[string]ConnectionState
	// Status gathers the whole status (GET /status).
	Status() Status
	// Devices lists the configured and learnt devices (GET /devices).
	Devices() []DeviceState
	// DeadLetters lists a connection's dead letters, oldest first.
	DeadLetters(id string) ([]DeadLetter, error)
	// ReplayDeadLetters queues dead letters again (nil seqs: all) and tells
	// the connection's delivery about them; it returns how many.
	ReplayDeadLetters(id string, seqs []uint64) (int, error)
	// WriteMetrics writes every metric in Prometheus text format.
	WriteMetrics(w io.Writer)
}

// Update is the outcome of an accepted UpdateConnections.
type Update struct {
	// Connections is the list now in force, completed (ids, brand URLs).
	Connections []config.Connection
	// Saved is the file the change was written to; "" when the agent runs
	// on built-in defaults and the change lives in memory only.
	Saved    string
	Warnings []config.Warning
}

// ConnectionState is what a connection is doing, as IoT Flow reports it
// (state, startupTime) plus what a technician needs to tell why.
type ConnectionState struct {
	State        string     `json:"state"`
	StartupTime  *time.Time `json:"startupTime,omitempty"`
	LastDelivery *time.Time `json:"lastDelivery,omitempty"`
	// Reason says why a failing connection fails, in words ("endpoint
	// answers but refuses the uplinks"); empty while it delivers.
	Reason        string     `json:"reason,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	LastErrorTime *time.Time `json:"lastErrorTime,omitempty"`
	Delivered     uint64     `json:"delivered"`
	Backlog       int        `json:"backlog"`
	BacklogBytes  int64      `json:"backlogBytes"`
	OldestAge     string     `json:"oldestAge,omitempty"`
	DeadLetters   int        `json:"deadLetters"`
}

// Status is GET /status: enough for a technician to tell in seconds whether
// uplinks reach the cloud, and why not.
type Status struct {
	Version     string             `json:"version"`
	Config      string             `json:"config"` // the file, or "built-in defaults"
	Started     time.Time          `json:"started"`
	Uptime      string             `json:"uptime"`
	Gateways    []Gateway          `json:"gateways"`
	Sources     []Source           `json:"sources"`
	Connections []ConnectionStatus `json:"connections"`
	Devices     []DeviceState      `json:"devices"`
	// UnknownDevAddrs are addresses heard recently that no device has:
	// another network's devices, or one of ours with a wrong devAddr.
	UnknownDevAddrs []UnknownDevAddr `json:"unknownDevAddrs"`
	Buffer          BufferStatus     `json:"buffer"`
	// LastReload is the last reload from the configuration file (SIGHUP,
	// a changed file); absent before the first.
	LastReload *ReloadStatus `json:"lastReload,omitempty"`
}

// ReloadStatus is the outcome of a reload from the configuration file.
type ReloadStatus struct {
	Time    time.Time `json:"time"`
	OK      bool      `json:"ok"`
	Trigger string    `json:"trigger,omitempty"` // "SIGHUP", "file changed"
	// Problems are why the file was refused, one per line as
	// `edgeflow config validate` prints them; the running configuration
	// stayed in force.
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// UnknownDevAddr is a DevAddr heard that no configured or joined device
// has.
type UnknownDevAddr struct {
	DevAddr   string    `json:"devAddr"`
	Count     uint64    `json:"count"`
	LastHeard time.Time `json:"lastHeard"`
	BestRSSI  float64   `json:"bestRSSI"`
	Gateway   string    `json:"gatewayEUI"` // that heard it best
	Hint      string    `json:"hint"`
}

// Rejection is the last frame of a device that was not accepted.
type Rejection struct {
	Reason string    `json:"reason"` // mic_failure, fcnt_replay
	Hint   string    `json:"hint"`
	Time   time.Time `json:"time"`
	// Count is how many frames were rejected since the last good one;
	// 0 once the device is heard well again.
	Count  uint64 `json:"count"`
	FCnt16 uint16 `json:"fCnt16"`
}

// ConnectionStatus is one connection in /status.
type ConnectionStatus struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ConnectorID string `json:"connectorId"`
	Active      bool   `json:"active"`
	ConnectionState
}

// Gateway is a packet forwarder seen on the UDP listener.
type Gateway struct {
	EUI          string     `json:"gatewayEUI"`
	LastPushData *time.Time `json:"lastPushData,omitempty"`
	LastPullData *time.Time `json:"lastPullData,omitempty"`
	PushAddr     string     `json:"pushAddr,omitempty"`
	PullAddr     string     `json:"pullAddr,omitempty"`
	PushData     uint64     `json:"pushData"`
	PullData     uint64     `json:"pullData"`
	RXPK         uint64     `json:"rxpk"`
	Position     *Position  `json:"position,omitempty"`
}

// Position is where a gateway reported itself.
type Position struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Altitude  float64 `json:"altitude"`
}

// Source is a frame source the agent listens on or relays to.
type Source struct {
	Type string `json:"type"` // "udp", "upstream", "mqtt"
	Addr string `json:"addr"`
	// State is "listening" (udp), "up" or "down" (upstream: answering or
	// not), "connected" or "disconnected" (mqtt).
	State string `json:"state,omitempty"`
	// LastSeen is the last datagram acknowledged by an upstream, or the
	// last message from the broker.
	LastSeen *time.Time `json:"lastSeen,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// BufferStatus describes the buffer file.
type BufferStatus struct {
	Path    string `json:"path"`
	Persist string `json:"persist"`
	Size    int64  `json:"size"`    // bytes of the file on flash
	MaxSize int64  `json:"maxSize"` // the budget
}

// DeviceState is what the agent knows of one configured device (the
// file's config.Device): its session, its last uplink and payload, its
// last rejected frame. Keys are never included.
type DeviceState struct {
	DevEUI  string `json:"devEUI"`
	DevAddr string `json:"devAddr,omitempty"`
	Name    string `json:"name,omitempty"`
	// Activation is "ABP" or "OTAA".
	Activation string `json:"activation"`
	// SessionKnown tells whether the agent holds the device's session keys
	// and so can check and decrypt its uplinks: always for ABP, after a
	// join for OTAA.
	SessionKnown bool       `json:"sessionKnown"`
	LastUplink   *time.Time `json:"lastUplink,omitempty"`
	FCnt         *uint32    `json:"fCnt,omitempty"`
	Uplinks      uint64     `json:"uplinks"`
	RSSI         *float64   `json:"rssi,omitempty"`
	SNR          *float64   `json:"snr,omitempty"`
	// The last uplink's payload since the agent started: hex always, and
	// its readings when it decodes as Cayenne LPP (see devices[].payloadFormat);
	// PayloadNote says why a payload meant to be LPP is not.
	FPort       *uint8    `json:"fPort,omitempty"`
	PayloadHex  string    `json:"payloadHex,omitempty"`
	Readings    []Reading `json:"readings,omitempty"`
	PayloadNote string    `json:"payloadNote,omitempty"`
	// LastRejection is the device's last frame that was not accepted
	// (wrong key, counter gone back); absent when none was.
	LastRejection *Rejection `json:"lastRejection,omitempty"`
}

// DeadLetter is an uplink an endpoint refused, kept for inspection/replay.
type DeadLetter struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"` // reception
	At     time.Time `json:"at"`   // when it was set aside
	Reason string    `json:"reason"`
	DevEUI string    `json:"devEUI,omitempty"`
	FCnt   uint32    `json:"fCnt"`
	FPort  uint8     `json:"fPort"`
	Size   int       `json:"size"` // bytes of the stored record
}
