package gwmp

import (
	"bytes"
	"errors"
	"testing"
)

func TestPushAck(t *testing.T) {
	for _, tc := range []struct {
		bytes []byte
		p     PushAckPacket
	}{
		{mustHex("024ee801"), PushAckPacket{Version: 2, Token: [2]byte{0x4e, 0xe8}}}, // P1's ack
		{mustHex("02000101"), PushAckPacket{Version: 2, Token: [2]byte{0, 1}}},       // P6
		{mustHex("017b0001"), PushAckPacket{Version: 1, Token: [2]byte{0x7b, 0}}},
	} {
		b, err := tc.p.MarshalBinary()
		if err != nil || !bytes.Equal(b, tc.bytes) {
			t.Errorf("marshal %+v: % x %v", tc.p, b, err)
		}
		var got PushAckPacket
		if err := got.UnmarshalBinary(tc.bytes); err != nil || got != tc.p {
			t.Errorf("unmarshal % x: %+v %v", tc.bytes, got, err)
		}
	}
	var p PushAckPacket
	if err := p.UnmarshalBinary(mustHex("024ee804")); !errors.Is(err, ErrWrongType) {
		t.Errorf("PULL_ACK as PUSH_ACK: %v", err)
	}
}
