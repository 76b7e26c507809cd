package gwmp

import (
	"encoding/json"

	"github.com/brocaar/lorawan"
)

// TXAckPacket reports the fate of a PULL_RESP, echoing its token. Forwarders
// before v3.1.0 sent no gateway EUI (HasEUI false); on success most send no
// JSON at all (Payload nil).
type TXAckPacket struct {
	Version    uint8
	Token      [2]byte
	HasEUI     bool
	GatewayEUI lorawan.EUI64
	Payload    *TXAckPayload
}

// TXAckPayload is the optional JSON object of a TX_ACK.
type TXAckPayload struct {
	TXPKAck TXPKAck `json:"txpk_ack"`
}

// TXPKAck holds an error ("TOO_LATE", …) or, since protocol v1.5, a warning
// ("TX_POWER") with the value actually used.
type TXPKAck struct {
	Error string   `json:"error,omitempty"`
	Warn  string   `json:"warn,omitempty"`
	Value *float64 `json:"value,omitempty"`
}

// ErrorCode returns the TX error, "" when the downlink went out ("NONE" and
// a missing payload both mean success).
func (p *TXAckPacket) ErrorCode() string {
	if p.Payload == nil || p.Payload.TXPKAck.Error == "NONE" {
		return ""
	}
	return p.Payload.TXPKAck.Error
}

// UnmarshalBinary decodes a TX_ACK, with or without EUI and JSON, ignoring
// trailing NUL bytes (Kerlink).
func (p *TXAckPacket) UnmarshalBinary(b []byte) error {
	h, err := checkHeader(b, TXAck, HeaderLen)
	if err != nil {
		return err
	}
	*p = TXAckPacket{Version: h.Version, Token: h.Token}
	rest := b[HeaderLen:]
	// Old forwarders put the JSON right at byte 4, with no EUI. Prefer the
	// EUI reading whenever what follows 8 bytes is nothing or an object: a
	// JSON object cut 8 bytes in is (short of contrived strings) no object.
	switch js := trimJSON(rest); {
	case len(rest) >= 8 && isObjectOrEmpty(trimJSON(rest[8:])):
		p.HasEUI = true
		copy(p.GatewayEUI[:], rest[:8])
		rest = rest[8:]
	case isObjectOrEmpty(js):
	case len(rest) >= 8:
		p.HasEUI = true
		copy(p.GatewayEUI[:], rest[:8])
		rest = rest[8:]
	default:
		return ErrTooShort
	}
	js := trimJSON(rest)
	if len(js) == 0 {
		return nil
	}
	p.Payload = new(TXAckPayload)
	if err := json.Unmarshal(js, p.Payload); err != nil {
		return wrap(ErrBadJSON, err)
	}
	return nil
}

// MarshalBinary encodes the packet.
func (p TXAckPacket) MarshalBinary() ([]byte, error) {
	b := appendHeader(make([]byte, 0, 64), p.Version, p.Token, TXAck)
	if p.HasEUI {
		b = append(b, p.GatewayEUI[:]...)
	}
	if p.Payload == nil {
		return b, nil
	}
	js, err := json.Marshal(p.Payload)
	if err != nil {
		return nil, err
	}
	return append(b, js...), nil
}

func isObjectOrEmpty(js []byte) bool {
	return len(js) == 0 || (js[0] == '{' && json.Valid(js))
}
