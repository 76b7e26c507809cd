package gwmp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestPullResp(t *testing.T) {
	tmst := uint32(3000000)
	for _, tc := range []struct {
		name  string
		bytes []byte
		p     PullRespPacket
	}{
		{"PROTOCOL.TXT LoRa", append(mustHex("02abcd03"), `{"txpk":{"imme":true,"freq":864.123456,"rfch":0,"powe":14,"modu":"LORA","datr":"SF11BW125","codr":"4/6","ipol":false,"size":32,"data":"H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}`...),
			PullRespPacket{Version: 2, Token: [2]byte{0xab, 0xcd}, Payload: PullRespPayload{TXPK{Imme: true, Freq: 864.123456,
				Powe: 14, Modu: "LORA", DatR: DataRate{LoRa: "SF11BW125"}, CodR: "4/6", Size: 32,
				Data: "H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}}},
		{"PROTOCOL.TXT FSK", append(mustHex("02abcd03"), `{"txpk":{"imme":true,"freq":861.3,"rfch":0,"powe":12,"modu":"FSK","datr":50000,"fdev":3000,"ipol":false,"size":32,"data":"H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}`...),
			PullRespPacket{Version: 2, Token: [2]byte{0xab, 0xcd}, Payload: PullRespPayload{TXPK{Imme: true, Freq: 861.3,
				Powe: 12, Modu: "FSK", DatR: DataRate{FSK: 50000}, FDev: 3000, Size: 32,
				Data: "H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}}},
		{"ChirpStack retry (v1: token zero)", append(mustHex("01000003"), `{"txpk":{"tmst":3000000,"freq":868.1,"rfch":0,"powe":14,"modu":"LORA","datr":"SF7BW125","codr":"4/5","ipol":true,"size":5,"data":"AQIDBAU="}}`...),
			PullRespPacket{Version: 1, Payload: PullRespPayload{TXPK{Tmst: &tmst, Freq: 868.1, Powe: 14, Modu: "LORA",
				DatR: DataRate{LoRa: "SF7BW125"}, CodR: "4/5", IPol: true, Size: 5, Data: "AQIDBAU="}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got PullRespPacket
			if err := got.UnmarshalBinary(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.p) {
				t.Fatalf("decode:\n got %+v\nwant %+v", got, tc.p)
			}
			b, err := tc.p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			// Field order follows the struct, so compare after a decode.
			var again PullRespPacket
			if err := again.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(again, tc.p) {
				t.Fatalf("round trip %s: %+v %v", b, again, err)
			}
		})
	}
	// Version 1 has no PULL_RESP token: whatever the struct holds, send zero.
	b, _ := PullRespPacket{Version: 1, Token: [2]byte{9, 9}}.MarshalBinary()
	if !bytes.Equal(b[:4], []byte{1, 0, 0, 3}) {
		t.Errorf("v1 header % x", b[:4])
	}
	// brd and ant go out only when set.
	if bytes.Contains(b, []byte(`"brd"`)) || bytes.Contains(b, []byte(`"ant"`)) {
		t.Errorf("unset brd/ant sent: %s", b)
	}
	var p PullRespPacket
	if err := p.UnmarshalBinary(mustHex("02000103")); !errors.Is(err, ErrNoJSON) {
		t.Errorf("no JSON: %v", err)
	}
	txpk := TXPK{}
	txpk.SetPayload([]byte{1, 2, 3, 4, 5})
	if pl, err := txpk.Payload(); err != nil || !bytes.Equal(pl, []byte{1, 2, 3, 4, 5}) || txpk.Size != 5 {
		t.Errorf("payload %v %v", pl, err)
	}
}
