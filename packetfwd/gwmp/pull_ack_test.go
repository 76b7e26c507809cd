package gwmp

import (
	"bytes"
	"errors"
	"testing"
)

func TestPullAck(t *testing.T) {
	for _, tc := range []struct {
		bytes []byte
		p     PullAckPacket
	}{
		{mustHex("02000104"), PullAckPacket{Version: 2, Token: [2]byte{0, 1}}}, // P6
		{mustHex("01abcd04"), PullAckPacket{Version: 1, Token: [2]byte{0xab, 0xcd}}},
	} {
		b, err := tc.p.MarshalBinary()
		if err != nil || !bytes.Equal(b, tc.bytes) {
			t.Errorf("marshal %+v: % x %v", tc.p, b, err)
		}
		var got PullAckPacket
		if err := got.UnmarshalBinary(tc.bytes); err != nil || got != tc.p {
			t.Errorf("unmarshal % x: %+v %v", tc.bytes, got, err)
		}
	}
	var p PullAckPacket
	if err := p.UnmarshalBinary([]byte{2, 0, 1}); !errors.Is(err, ErrTooShort) {
		t.Errorf("short: %v", err)
	}
}
