package gwmp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// DataRate is rxpk/txpk "datr": a string for LoRa ("SF7BW125") and LR-FHSS
// ("M0CW137"), a number (bit/s) for FSK.
type DataRate struct {
	LoRa string // LoRa or LR-FHSS identifier; empty for FSK
	FSK  uint32 // FSK bit rate; 0 for LoRa
}

// String returns the data rate as sent: the LoRa string or the FSK rate.
func (d DataRate) String() string {
	if d.LoRa != "" || d.FSK == 0 {
		return d.LoRa
	}
	return strconv.FormatUint(uint64(d.FSK), 10)
}

// MarshalJSON writes a string for LoRa, a number for FSK.
func (d DataRate) MarshalJSON() ([]byte, error) {
	if d.LoRa != "" {
		return json.Marshal(d.LoRa)
	}
	return strconv.AppendUint(nil, uint64(d.FSK), 10), nil
}

// UnmarshalJSON accepts a string or a non-negative number. Common LoRa rates
// are interned, so that decoding them does not allocate.
func (d *DataRate) UnmarshalJSON(b []byte) error {
	*d = DataRate{}
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 {
			if v, ok := loraRates[string(s)]; ok {
				d.LoRa = v
			} else {
				d.LoRa = string(s)
			}
			return nil
		}
		return json.Unmarshal(b, &d.LoRa)
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f < 0 || f > 1<<32-1 {
			return ErrBadDataRate
		}
		d.FSK = uint32(f)
		return nil
	}
}

// loraRates interns "SF5BW125" … "SF12BW500".
var loraRates = func() map[string]string {
	m := make(map[string]string)
	for sf := 5; sf <= 12; sf++ {
		for _, bw := range []string{"125", "250", "500"} {
			s := "SF" + strconv.Itoa(sf) + "BW" + bw
			m[s] = s
		}
	}
	return m
}()

// ParseLoRaDataRate splits "SF7BW125" into spreading factor and bandwidth
// in kHz. ok is false for anything else, LR-FHSS rates included.
func ParseLoRaDataRate(s string) (sf, bwKHz int, ok bool) {
	rest, found := strings.CutPrefix(s, "SF")
	if !found {
		return 0, 0, false
	}
	sfs, bws, found := strings.Cut(rest, "BW")
	if !found {
		return 0, 0, false
	}
	sf, err1 := strconv.Atoi(sfs)
	bw, err2 := strconv.Atoi(bws)
	// Atoi accepts a sign; the wire format never has one.
	if err1 != nil || err2 != nil || sfs[0] == '+' || bws[0] == '+' ||
		sf < 5 || sf > 12 || bw <= 0 || bw > 1625 {
		return 0, 0, false
	}
	return sf, bw, true
}

// CompactTime is rxpk "time", ISO 8601 compact ("2013-03-31T16:21:17.528002Z").
// Absent, empty, null or unparseable values decode to the zero time without
// error: the caller then falls back to its own clock.
type CompactTime struct{ time.Time }

// MarshalJSON writes RFC 3339 in UTC with µs, as the reference forwarder.
func (t CompactTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	return append(b, '"'), nil
}

// UnmarshalJSON never fails; see CompactTime.
func (t *CompactTime) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	s, ok := jsonPlainString(b)
	if !ok {
		return nil
	}
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = v
	}
	return nil
}

// ExpandedTime is stat "time", "2014-01-12 08:59:28 GMT" (strftime "%F %T %Z").
// A bad value never fails the datagram (chirpstack-gateway-bridge#13): it
// decodes to the zero time, after a second try as RFC 3339.
type ExpandedTime struct{ time.Time }

// ExpandedLayout is the Go layout of stat "time".
const ExpandedLayout = "2006-01-02 15:04:05 MST"

// MarshalJSON writes the expanded format in GMT.
func (t ExpandedTime) MarshalJSON() ([]byte, error) {
	b := []byte{'"'}
	b = t.UTC().AppendFormat(b, "2006-01-02 15:04:05 GMT")
	return append(b, '"'), nil
}

// UnmarshalJSON never fails; see ExpandedTime.
func (t *ExpandedTime) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	s, ok := jsonPlainString(b)
	if !ok || s == "" {
		return nil
	}
	if v, err := time.Parse(ExpandedLayout, s); err == nil {
		t.Time = v
	} else if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = v
	}
	return nil
}

// jsonPlainString returns the contents of a JSON string token without
// escapes; timestamps never need them, so ok is false for anything else.
// The string shares b's memory, so that parsing a timestamp does not
// allocate: callers only hand it to time.Parse, which keeps none of it (it
// copies zone names and the value in a ParseError).
func jsonPlainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || bytes.IndexByte(b, '\\') >= 0 {
		return "", false
	}
	return unsafe.String(&b[1], len(b)-2), true
}

// appendBase64 decodes standard base64, padded or not (TTS does the same;
// ChirpStack's strict decoding failed on real gateways, #79).
func appendBase64(dst []byte, s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	n := base64.RawStdEncoding.DecodedLen(len(s))
	start := len(dst)
	if cap(dst)-start < n {
		grown := make([]byte, start, start+n)
		copy(grown, dst)
		dst = grown
	}
	// The decoder only reads src; viewing the string as bytes saves copying
	// every payload once more.
	src := unsafe.Slice(unsafe.StringData(s), len(s))
	m, err := base64.RawStdEncoding.Decode(dst[start:start+n], src)
	if err != nil {
		return dst[:start], wrap(ErrBadBase64, err)
	}
	return dst[:start+m], nil
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
