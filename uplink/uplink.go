package uplink

import (
	"time"

	"github.com/brocaar/lorawan"
)

// Uplink is one decoded, verified, decrypted data uplink of a known device.
// It is the record that crosses from uplink to buffer to connector.
type Uplink struct {
	DevEUI  lorawan.EUI64
	DevAddr lorawan.DevAddr
	MType   lorawan.MType // UnconfirmedDataUp or ConfirmedDataUp
	ADR     bool
	ACK     bool
	FCnt    uint32 // full 32-bit uplink frame counter
	FPort   uint8
	Payload []byte // decrypted FRMPayload
	MIC     lorawan.MIC

	// ReceivedAt is the reception time (see radio.Frame.Time).
	ReceivedAt time.Time
	Frequency  float64 // MHz
	SF         int
	DataRate   string

	// Receptions holds every gateway antenna that heard the frame, best first.
	Receptions []Reception

	// Unsynced tells that ReceivedAt came from a system clock that was not
	// set yet (no GPS time; a gateway without a real-time clock boots in
	// the past). Delivery puts the right time on it once the clock is set,
	// from the boot clock below, before sending it.
	Unsynced bool
	// Boot is the boot clock at reception, kept with unsynced uplinks.
	Boot BootStamp
}

// Reception is one antenna's reception of an uplink.
type Reception struct {
	GatewayEUI  lorawan.EUI64
	RSSI        float64
	SNR         float64
	Channel     int
	RFChain     int
	Antenna     int
	HasPosition bool
	Latitude    float64
	Longitude   float64
}
