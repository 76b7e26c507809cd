package gwmp

import (
	"bytes"
	"encoding"
	"testing"
)

// FuzzDecode feeds arbitrary datagrams to the decoder of their type. It
// checks that nothing panics, that every error has a known Reason, and that
// whatever decodes re-encodes into something that decodes again, stably.
func FuzzDecode(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzDecode (the reference vectors).
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			checkReason(t, err)
			return
		}
		newPacket := map[Type]func() codec{
			PushData: func() codec { return new(PushDataPacket) },
			PushAck:  func() codec { return new(PushAckPacket) },
			PullData: func() codec { return new(PullDataPacket) },
			PullResp: func() codec { return new(PullRespPacket) },
			PullAck:  func() codec { return new(PullAckPacket) },
			TXAck:    func() codec { return new(TXAckPacket) },
		}[h.Type]
		p := newPacket()
		if err := p.UnmarshalBinary(b); err != nil {
			checkReason(t, err)
			return
		}
		if b[0] != h.Version {
			t.Fatal("version changed")
		}
		// Encoding normalises (times to µs in UTC, invalid UTF-8, field
		// order), so compare the second and third generations.
		enc1 := marshal(t, p)
		p2 := newPacket()
		if err := p2.UnmarshalBinary(enc1); err != nil {
			t.Fatalf("own encoding %q does not decode: %v", enc1, err)
		}
		enc2 := marshal(t, p2)
		p3 := newPacket()
		if err := p3.UnmarshalBinary(enc2); err != nil {
			t.Fatalf("own encoding %q does not decode: %v", enc2, err)
		}
		if enc3 := marshal(t, p3); !bytes.Equal(enc2, enc3) {
			t.Fatalf("unstable encoding:\n%q\n%q", enc2, enc3)
		}
		// Payloads either decode or fail with the named error.
		if pd, ok := p.(*PushDataPacket); ok {
			for i := range pd.Payload.RXPK {
				if _, err := pd.Payload.RXPK[i].Payload(); err != nil {
					checkReason(t, err)
				}
			}
		}
	})
}

type codec interface {
	encoding.BinaryUnmarshaler
	encoding.BinaryMarshaler
}

func marshal(t *testing.T, p encoding.BinaryMarshaler) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal %+v: %v", p, err)
	}
	return b
}

func checkReason(t *testing.T, err error) {
	t.Helper()
	if r := Reason(err); r == "" || r == "other" {
		t.Fatalf("error without a reason: %v", err)
	}
}
