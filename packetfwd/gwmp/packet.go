package gwmp

import (
	"errors"
	"fmt"
)

// Protocol versions. Replies must carry the version the gateway used.
const (
	Version1 uint8 = 1
	Version2 uint8 = 2
)

// Type is the packet identifier, byte 3 of every packet.
type Type uint8

// Packet types, numbered as on the wire.
const (
	PushData Type = 0x00
	PushAck  Type = 0x01
	PullData Type = 0x02
	PullResp Type = 0x03
	PullAck  Type = 0x04
	TXAck    Type = 0x05
)

var typeNames = [...]string{"push_data", "push_ack", "pull_data", "pull_resp", "pull_ack", "tx_ack"}

// String returns the snake_case name used in logs and metric labels.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type_0x%02x", uint8(t))
}

// Known reports whether t is one of the six GWMP packet types.
func (t Type) Known() bool { return int(t) < len(typeNames) }

// HeaderLen is the size of version, token and type. Packets that carry a
// gateway EUI put it right after, in bytes 4–11.
const (
	HeaderLen    = 4
	HeaderEUILen = 12
)

// Header is the part common to every packet.
type Header struct {
	Version uint8
	// Token is kept as the two raw bytes: byte order only matters to
	// implementations that print it, and acks must echo it unchanged.
	Token [2]byte
	Type  Type
}

// ParseHeader reads the first four bytes of a datagram.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrTooShort
	}
	h := Header{Version: b[0], Token: [2]byte{b[1], b[2]}, Type: Type(b[3])}
	if h.Version != Version1 && h.Version != Version2 {
		return h, ErrUnknownVersion
	}
	if !h.Type.Known() {
		return h, ErrUnknownType
	}
	return h, nil
}

// checkHeader parses b's header and checks that it is of type want.
func checkHeader(b []byte, want Type, minLen int) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Type != want {
		return h, ErrWrongType
	}
	if len(b) < minLen {
		return h, ErrTooShort
	}
	return h, nil
}

func appendHeader(dst []byte, version uint8, token [2]byte, t Type) []byte {
	return append(dst, version, token[0], token[1], byte(t))
}

// Error is a named decoding error. Its Reason is stable and meant as a
// metric label; its message is for humans.
type Error struct {
	reason string
	msg    string
}

func (e *Error) Error() string { return "gwmp: " + e.msg }

// Reason returns the error's snake_case name.
func (e *Error) Reason() string { return e.reason }

// The errors decoders return, possibly wrapped with details (test with
// errors.Is, label with Reason).
var (
	ErrTooShort       = &Error{"too_short", "datagram too short"}
	ErrUnknownVersion = &Error{"unknown_version", "unknown protocol version"}
	ErrUnknownType    = &Error{"unknown_type", "unknown packet type"}
	ErrWrongType      = &Error{"wrong_type", "packet is not of the expected type"}
	ErrBadJSON        = &Error{"bad_json", "invalid JSON"}
	ErrNoJSON         = &Error{"no_json", "JSON object missing"}
	ErrBadBase64      = &Error{"bad_base64", "invalid base64 payload"}
	ErrBadDataRate    = &Error{"bad_datr", "invalid data rate"}
)

// Reason returns the snake_case name of err for metric labels: the Reason of
// the first *Error in its chain, "" for nil, and "other" for anything else.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.reason
	}
	return "other"
}

// wrap attaches a cause to a named error without losing its name.
func wrap(named *Error, cause error) error {
	return fmt.Errorf("%w: %v", named, cause)
}

// trimJSON drops the trailing NUL bytes and white space some forwarders
// (Kerlink) append, so that the JSON decoder sees only the object.
func trimJSON(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case 0, ' ', '\t', '\r', '\n':
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}
