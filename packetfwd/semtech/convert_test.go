package semtech

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
)

var recvTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func decodePush(t testing.TB, body string) *gwmp.PushDataPacket {
	t.Helper()
	var p gwmp.PushDataPacket
	if err := p.UnmarshalBinary(pkt(2, "0001", 0, "0102030405060708", body)); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestFramesFromPushData(t *testing.T) {
	eui := lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}
	pos := Position{52.1, 5.2, 10}
	tests := []struct {
		name   string
		body   string
		hasPos bool
		want   []radio.Frame
		drops  []string
	}{
		{"P1", p1JSON, false, []radio.Frame{{PHYPayload: p1PHY, GatewayEUI: eui, Time: recvTime, Tmst: 284024332,
			Frequency: 868.1, Modulation: "LORA", DataRate: "SF10BW125", SF: 10, Bandwidth: 125, CodeRate: "4/5",
			RFChain: 1, RSSI: -89, SNR: 10.5, CRCStatus: 1}}, nil},
		{"P3 one frame per antenna, GPS time, position", p3JSON, true, []radio.Frame{
			{PHYPayload: p3PHY, GatewayEUI: eui, Time: time.Date(2017, 7, 4, 13, 51, 17, 997099000, time.UTC), GPSTime: true,
				Tmst: 879148780, Frequency: 868.5, Modulation: "LORA", DataRate: "SF7BW125", SF: 7, Bandwidth: 125,
				CodeRate: "4/5", Channel: 7, Antenna: 0, RSSI: -95, SNR: 14, CRCStatus: 1,
				HasPosition: true, Latitude: 52.1, Longitude: 5.2, Altitude: 10},
			{PHYPayload: p3PHY, GatewayEUI: eui, Time: time.Date(2017, 7, 4, 13, 51, 17, 997099000, time.UTC), GPSTime: true,
				Tmst: 879148780, Frequency: 868.5, Modulation: "LORA", DataRate: "SF7BW125", SF: 7, Bandwidth: 125,
				CodeRate: "4/5", Channel: 23, Antenna: 1, RSSI: -93, SNR: 14, CRCStatus: 1,
				HasPosition: true, Latitude: 52.1, Longitude: 5.2, Altitude: 10}}, nil},
		{"SX1303 CRC error dropped", sx1303JSON, false, nil, []string{"crc_error"}},
		{"mixed datagram", `{"rxpk":[
			{"tmst":1,"stat":-1,"modu":"LORA","datr":"SF7BW125","data":"AQ=="},
			{"tmst":2,"stat":1,"modu":"LORA","datr":"SF12BW125","codr":"4/5","freq":868.3,"chan":1,"rfch":0,"brd":2,"rssi":-110,"lsnr":-12.5,"data":"QPF9vkkAAgABlUN4disR/w0","time":""},
			{"tmst":3,"stat":0,"data":"AQ=="},
			{"tmst":4,"stat":1,"modu":"LORA","datr":"SF7BW125","data":"###"},
			{"tmst":5,"stat":1,"modu":"LORA","datr":"SF7BW125","data":""},
			{"tmst":6,"stat":1,"modu":"LORA","datr":"SF?BW125","data":"AQ=="},
			{"tmst":7,"stat":2,"data":"AQ=="},
			{"tmst":8,"stat":1,"modu":"FSK","datr":50000,"freq":868.8,"rssi":-70,"data":"AQID","time":"1980-01-06T00:00:00Z"},
			{"tmst":9,"stat":1,"modu":"LR-FHSS","datr":"M0CW137","codr":"2/6","freq":868.1,"data":"BA","time":"2026-11-25T11:59:59.5Z"}]}`,
			false, []radio.Frame{
				{PHYPayload: v1PHY, GatewayEUI: eui, Time: recvTime, Tmst: 2, Frequency: 868.3, Modulation: "LORA",
					DataRate: "SF12BW125", SF: 12, Bandwidth: 125, CodeRate: "4/5", Channel: 1, Board: 2,
					RSSI: -110, SNR: -12.5, CRCStatus: 1},
				{PHYPayload: []byte{1, 2, 3}, GatewayEUI: eui, Time: recvTime, Tmst: 8, Frequency: 868.8,
					Modulation: "FSK", DataRate: "50000", RSSI: -70, CRCStatus: 1},
				{PHYPayload: []byte{4}, GatewayEUI: eui, Time: time.Date(2026, 11, 25, 11, 59, 59, 5e8, time.UTC), GPSTime: true,
					Tmst: 9, Frequency: 868.1, Modulation: "LR-FHSS", DataRate: "M0CW137", CodeRate: "2/6", CRCStatus: 1},
			}, []string{"crc_error", "no_crc", "bad_base64", "empty_payload", "bad_datr", "bad_stat"}},
		{"stat only", p4JSON, true, nil, nil},
		{"too many antennas", `{"rxpk":[{"stat":1,"modu":"FSK","datr":50000,"data":"AQ==","rsig":[` +
			strings.Repeat(`{},`, maxRSig) + `{}]}]}`, false, nil, []string{"bad_rsig"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var drops []string
			got := framesFromPushData(decodePush(t, tc.body), &recvTime, pos, tc.hasPos, nil,
				func(reason string, _ *gwmp.RXPK, _ error) { drops = append(drops, reason) })
			if len(got) != len(tc.want) {
				t.Fatalf("%d frames, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tc.want[i]) {
					t.Errorf("frame %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
			if !slices.Equal(drops, tc.drops) {
				t.Errorf("drops %v, want %v", drops, tc.drops)
			}
		})
	}
}

// Handlers may keep or modify payloads: antennas must not share bytes.
func TestFramesOwnPayloads(t *testing.T) {
	frames := framesFromPushData(decodePush(t, p3JSON), &recvTime, Position{}, false, nil,
		func(string, *gwmp.RXPK, error) {})
	if len(frames) != 2 {
		t.Fatalf("%d frames", len(frames))
	}
	frames[0].PHYPayload[0] ^= 0xff
	frames[0].PHYPayload = append(frames[0].PHYPayload, 1)
	if !reflect.DeepEqual(frames[1].PHYPayload, p3PHY) {
		t.Fatalf("antenna 1 payload changed: % x", frames[1].PHYPayload)
	}
}

func BenchmarkFramesFromPushData(b *testing.B) {
	p := decodePush(b, p1JSON)
	b.ReportAllocs()
	for b.Loop() {
		framesFromPushData(p, &recvTime, Position{}, false, nil, func(string, *gwmp.RXPK, error) {})
	}
}

// The data-rate cache answers as the parser does, whatever the order.
func TestLoRaRatesCacheMatchesParser(t *testing.T) {
	var c loraRates
	for _, s := range []string{"SF7BW125", "SF7BW125", "", "", "SF12BW500", "SF13BW125", "SF13BW125", "SF7BW125", "bogus"} {
		sf, bw, ok := c.parse(s)
		wsf, wbw, wok := gwmp.ParseLoRaDataRate(s)
		if sf != wsf || bw != wbw || ok != wok {
			t.Errorf("parse(%q) = %d, %d, %v; parser %d, %d, %v", s, sf, bw, ok, wsf, wbw, wok)
		}
	}
}
