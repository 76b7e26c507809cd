package bridge

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// A ChirpStack Gateway Bridge publishes each uplink on
// [region/]gateway/<id>/event/up in one of three encodings, depending on its
// version and marshaler. The topic does not say which, so the payload is
// told apart by content: JSON starts with '{' (a protobuf UplinkFrame
// starts with a field tag of 1 to 5, never 0x7b), and within JSON v3 writes
// rxInfo.gatewayID (base64) where v4 writes rxInfo.gatewayId (hex).

// maxBridgePayload bounds a message: a real uplink is well under 1 KiB.
const maxBridgePayload = 64 << 10

// DecodeError is why a bridge message gave no Frame. Reason is a stable
// snake_case label for edgeflow_mqtt_dropped_total.
type DecodeError struct {
	Reason string
	msg    string
}

func (e *DecodeError) Error() string { return "bridge: uplink: " + e.msg }

func bridgeErr(reason, format string, args ...any) error {
	return &DecodeError{Reason: reason, msg: reason + ": " + fmt.Sprintf(format, args...)}
}

// bridgeDecodeReasons are the Reasons DecodeUplink returns.
var bridgeDecodeReasons = []string{
	"too_large", "bad_json", "bad_protobuf", "no_phy_payload", "bad_phy_payload",
	"bad_gateway_id", "bad_tx_info", "bad_rx_info",
	"crc_error", // CRC_BAD: the radio got it wrong
	"no_crc",    // NO_CRC: unchecked, dropped as the UDP path drops stat 0
}

// bridgeUplink is what the three encodings have in common.
type bridgeUplink struct {
	phy     []byte
	eui     lorawan.EUI64
	hasEUI  bool
	freqHz  uint64
	modu    string // "LORA", "FSK", "LR-FHSS", "" when missing
	sf      uint64
	bwHz    uint64
	codr    string
	fskRate uint64
	ocwHz   uint64 // LR-FHSS operating channel width
	time    time.Time
	rssi    float64
	snr     float64
	channel uint64
	rfChain uint64
	board   uint64
	antenna uint64
	context []byte
	tmst    uint32 // v3's rxInfo.timestamp, used when context is absent
	hasTmst bool
	crc     int
}

// DecodeUplink decodes one uplink message of a ChirpStack Gateway
// Bridge: v4 protobuf gw.UplinkFrame (or its legacy fields 2/3, which are
// v3's protobuf), v4 JSON (protojson) or v3 JSON. now is the agent's clock
// when the message arrived, the frame's time when the gateway gave none.
//
// Random bytes often parse as protobuf, so a message is accepted only with
// a PHYPayload, a gateway ID and sane radio metadata. Errors are always a
// *DecodeError; frames with a bad or no CRC are dropped with crc_error or
// no_crc, like the UDP path's.
func DecodeUplink(payload []byte, now time.Time) ([]radio.Frame, error) {
	if len(payload) > maxBridgePayload {
		return nil, bridgeErr("too_large", "%d bytes", len(payload))
	}
	var u bridgeUplink
	var err error
	if t := bytes.TrimLeft(payload, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		u, err = decodeBridgeJSON(t)
	} else {
		u, err = decodeBridgeProto(payload)
	}
	if err != nil {
		return nil, err
	}
	f, err := u.frame(now)
	if err != nil {
		return nil, err
	}
	return []radio.Frame{f}, nil
}

// frame checks the uplink and turns it into a Frame.
func (u *bridgeUplink) frame(now time.Time) (radio.Frame, error) {
	switch {
	case len(u.phy) == 0:
		return radio.Frame{}, bridgeErr("no_phy_payload", "no phyPayload")
	case len(u.phy) > 255:
		return radio.Frame{}, bridgeErr("bad_phy_payload", "%d bytes, LoRa carries at most 255", len(u.phy))
	case !u.hasEUI:
		return radio.Frame{}, bridgeErr("bad_gateway_id", "no gateway ID")
	case u.freqHz < 100e6 || u.freqHz > 3e9:
		return radio.Frame{}, bridgeErr("bad_tx_info", "frequency %d Hz", u.freqHz)
	case math.IsNaN(u.snr) || u.snr < -60 || u.snr > 60 || u.rssi < -200 || u.rssi > 50:
		return radio.Frame{}, bridgeErr("bad_rx_info", "rssi %v, snr %v", u.rssi, u.snr)
	case u.channel > 255 || u.rfChain > 255 || u.board > 255 || u.antenna > 255:
		return radio.Frame{}, bridgeErr("bad_rx_info", "channel %d, rf chain %d, board %d, antenna %d",
			u.channel, u.rfChain, u.board, u.antenna)
	}
	f := radio.Frame{
		PHYPayload: bytes.Clone(u.phy),
		GatewayEUI: u.eui,
		Time:       now,
		Frequency:  float64(u.freqHz) / 1e6,
		Modulation: u.modu,
		CodeRate:   u.codr,
		Channel:    int(u.channel),
		RFChain:    int(u.rfChain),
		Board:      int(u.board),
		Antenna:    int(u.antenna),
		RSSI:       u.rssi,
		SNR:        u.snr,
		CRCStatus:  u.crc,
	}
	switch u.modu {
	case "LORA":
		if u.sf < 5 || u.sf > 12 || u.bwHz < 7000 || u.bwHz > 1625000 {
			return radio.Frame{}, bridgeErr("bad_tx_info", "LoRa SF%d, bandwidth %d Hz", u.sf, u.bwHz)
		}
		f.SF, f.Bandwidth = int(u.sf), int(u.bwHz/1000)
		f.DataRate = fmt.Sprintf("SF%dBW%d", f.SF, f.Bandwidth)
	case "FSK":
		if u.fskRate == 0 || u.fskRate > 1e6 {
			return radio.Frame{}, bridgeErr("bad_tx_info", "FSK %d bit/s", u.fskRate)
		}
		f.DataRate = strconv.FormatUint(u.fskRate, 10)
	case "LR-FHSS":
		if u.ocwHz == 0 || u.ocwHz > 10e6 {
			return radio.Frame{}, bridgeErr("bad_tx_info", "LR-FHSS channel width %d Hz", u.ocwHz)
		}
		f.DataRate = fmt.Sprintf("M0CW%d", u.ocwHz/1000)
	default:
		return radio.Frame{}, bridgeErr("bad_tx_info", "no modulation")
	}
	if !u.time.IsZero() && !u.time.Before(radio.MinGPSTime) {
		f.Time, f.GPSTime = u.time.UTC(), true
	}
	// ChirpStack's context for a UDP gateway is the 4-byte big-endian tmst;
	// other backends put other things there, which are no tmst.
	if len(u.context) == 4 {
		f.Tmst = binary.BigEndian.Uint32(u.context)
	} else if u.hasTmst {
		f.Tmst = u.tmst
	}
	switch u.crc {
	case 1:
	case -1:
		return radio.Frame{}, bridgeErr("crc_error", "bad CRC")
	default:
		return radio.Frame{}, bridgeErr("no_crc", "no CRC")
	}
	return f, nil
}

// truncate keeps strings from a hostile message short in Frames and logs.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
