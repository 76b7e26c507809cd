package gwmp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/brocaar/lorawan"
)

func TestPullData(t *testing.T) {
	for _, tc := range []struct {
		bytes []byte
		p     PullDataPacket
	}{
		{mustHex("020001020102030405060708"), PullDataPacket{Version: 2, Token: [2]byte{0, 1}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}}}, // P6
		{mustHex("01ffee02aa555a0000000101"), PullDataPacket{Version: 1, Token: [2]byte{0xff, 0xee}, GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1}}},
	} {
		b, err := tc.p.MarshalBinary()
		if err != nil || !bytes.Equal(b, tc.bytes) {
			t.Errorf("marshal %+v: % x %v", tc.p, b, err)
		}
		var got PullDataPacket
		if err := got.UnmarshalBinary(tc.bytes); err != nil || got != tc.p {
			t.Errorf("unmarshal % x: %+v %v", tc.bytes, got, err)
		}
		// A trailing NUL is tolerated.
		if err := got.UnmarshalBinary(append(tc.bytes, 0)); err != nil || got != tc.p {
			t.Errorf("unmarshal with NUL: %+v %v", got, err)
		}
	}
	var p PullDataPacket
	if err := p.UnmarshalBinary(mustHex("0200010201020304050607")); !errors.Is(err, ErrTooShort) {
		t.Errorf("11 bytes: %v", err)
	}
}
