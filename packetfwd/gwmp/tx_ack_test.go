package gwmp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/brocaar/lorawan"
)

func TestTXAck(t *testing.T) {
	eui := lorawan.EUI64{0x72, 0x76, 0xff, 0x00, 0x39, 0x03, 0x00, 0xae}
	power := 20.0
	for _, tc := range []struct {
		name      string
		in        []byte
		want      TXAckPacket
		errorCode string
		canonical bool // MarshalBinary gives in back
	}{
		{"success header only", mustHex("028ba5057276ff00390300ae"),
			TXAckPacket{Version: 2, Token: [2]byte{0x8b, 0xa5}, HasEUI: true, GatewayEUI: eui}, "", true},
		{"Kerlink trailing NUL", mustHex("028ba5057276ff00390300ae00"),
			TXAckPacket{Version: 2, Token: [2]byte{0x8b, 0xa5}, HasEUI: true, GatewayEUI: eui}, "", false},
		{"error", append(mustHex("028ba5057276ff00390300ae"), `{"txpk_ack":{"error":"COLLISION_PACKET"}}`...),
			TXAckPacket{Version: 2, Token: [2]byte{0x8b, 0xa5}, HasEUI: true, GatewayEUI: eui,
				Payload: &TXAckPayload{TXPKAck{Error: "COLLISION_PACKET"}}}, "COLLISION_PACKET", true},
		{"warning", append(mustHex("028ba5057276ff00390300ae"), `{"txpk_ack":{"warn":"TX_POWER","value":20}}`...),
			TXAckPacket{Version: 2, Token: [2]byte{0x8b, 0xa5}, HasEUI: true, GatewayEUI: eui,
				Payload: &TXAckPayload{TXPKAck{Warn: "TX_POWER", Value: &power}}}, "", true},
		{"NONE", append(mustHex("028ba5057276ff00390300ae"), `{"txpk_ack":{"error":"NONE"}}`...),
			TXAckPacket{Version: 2, Token: [2]byte{0x8b, 0xa5}, HasEUI: true, GatewayEUI: eui,
				Payload: &TXAckPayload{TXPKAck{Error: "NONE"}}}, "", true},
		{"v3.0.0 without EUI", append(mustHex("02123405"), `{"txpk_ack":{"error":"TOO_LATE"}}`...),
			TXAckPacket{Version: 2, Token: [2]byte{0x12, 0x34}, Payload: &TXAckPayload{TXPKAck{Error: "TOO_LATE"}}}, "TOO_LATE", true},
		{"v3.0.0 bare", mustHex("02123405"), TXAckPacket{Version: 2, Token: [2]byte{0x12, 0x34}}, "", true},
		{"EUI starting with {", mustHex("021234057b00000000000001"),
			TXAckPacket{Version: 2, Token: [2]byte{0x12, 0x34}, HasEUI: true, GatewayEUI: lorawan.EUI64{0x7b, 0, 0, 0, 0, 0, 0, 1}}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got TXAckPacket
			if err := got.UnmarshalBinary(tc.in); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decode:\n got %+v\nwant %+v", got, tc.want)
			}
			if c := got.ErrorCode(); c != tc.errorCode {
				t.Errorf("ErrorCode %q, want %q", c, tc.errorCode)
			}
			b, err := got.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if tc.canonical && !bytes.Equal(b, tc.in) {
				t.Errorf("marshal:\n got %q\nwant %q", b, tc.in)
			}
			var again TXAckPacket
			if err := again.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip: %+v %v", again, err)
			}
		})
	}
	var p TXAckPacket
	if err := p.UnmarshalBinary(mustHex("0212340572")); !errors.Is(err, ErrTooShort) {
		t.Errorf("partial EUI: %v", err)
	}
	if err := p.UnmarshalBinary(append(mustHex("028ba5057276ff00390300ae"), "{oops"...)); !errors.Is(err, ErrBadJSON) {
		t.Errorf("bad JSON: %v", err)
	}
}
