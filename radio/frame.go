package radio

import (
	"context"
	"time"

	"github.com/brocaar/lorawan"
)

// Frame is one LoRa frame as one gateway antenna received it, with the radio
// metadata that the cloud document needs. Every source makes them; the
// decoder (uplink) reads them.
type Frame struct {
	PHYPayload []byte
	GatewayEUI lorawan.EUI64

	// Time is the reception time: the forwarder's GPS time (rxpk.time) when
	// it gave one, else the agent's clock when the datagram arrived.
	Time time.Time
	// GPSTime tells that Time came from the gateway's GPS.
	GPSTime bool
	// Tmst is the concentrator's 32-bit microsecond counter at reception.
	Tmst uint32

	Frequency  float64 // MHz
	Modulation string  // "LORA", "FSK", "LR-FHSS"
	DataRate   string  // as sent, e.g. "SF7BW125"
	SF         int     // spreading factor, 0 when not LoRa
	Bandwidth  int     // kHz, 0 when not LoRa
	CodeRate   string
	Channel    int
	RFChain    int
	Antenna    int
	Board      int
	RSSI       float64 // dBm (channel RSSI)
	SNR        float64 // dB
	CRCStatus  int     // 1 OK, -1 bad CRC, 0 no CRC

	// Position of the gateway when known (from the configuration or its stat).
	HasPosition bool
	Latitude    float64
	Longitude   float64
	Altitude    float64
}

// Handler receives frames from a source: those of one batch of datagrams
// (Semtech UDP) or of one MQTT message (the bridge). The UDP source sends
// PUSH_ACK only after HandleFrames returns, so that with buffer.persist
// "always" an acknowledged uplink is already on flash; a handler must
// therefore return quickly. The handler may keep the slice.
type Handler interface {
	HandleFrames(ctx context.Context, frames []Frame) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, frames []Frame) error

// HandleFrames calls f.
func (f HandlerFunc) HandleFrames(ctx context.Context, frames []Frame) error { return f(ctx, frames) }

// MinGPSTime: a gateway time before it is none. Some forwarders print
// epoch-like times before their GPS has a fix; the agent's clock is better
// than those.
var MinGPSTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
