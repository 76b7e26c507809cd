package gwmp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
)

func ptr[T any](v T) *T { return &v }

func TestPushDataDecode(t *testing.T) {
	eui0101 := lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 0x01, 0x01}
	gpsTime := time.Date(2017, 7, 4, 13, 51, 17, 997099000, time.UTC)
	tests := []struct {
		name string
		in   []byte
		want PushDataPacket
	}{
		{"P1 real capture", p1, PushDataPacket{Version: 2, Token: [2]byte{0x4e, 0xe8}, GatewayEUI: eui0101,
			Payload: PushDataPayload{RXPK: []RXPK{{Tmst: 284024332, Chan: 0, RFCh: 1, Freq: 868.1, Stat: 1,
				Modu: "LORA", DatR: DataRate{LoRa: "SF10BW125"}, CodR: "4/5", LSNR: 10.5, RSSI: -89, Size: 29,
				Data: "gPwKEgeAOQACCeQOfm4V1kR0WNikxzMUPQ2YxNo="}}}}},
		{"P2 composed", p2, PushDataPacket{Version: 2, Token: [2]byte{0x4e, 0xe8}, GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a},
			Payload: PushDataPayload{RXPK: []RXPK{{Tmst: 3512348611, Chan: 2, RFCh: 0, Freq: 868.5, Stat: 1,
				Modu: "LORA", DatR: DataRate{LoRa: "SF7BW125"}, CodR: "4/5", LSNR: 7.5, RSSI: -57, Size: 17,
				Data: "QPF9vkkAAgABlUN4disR/w0="}}}}},
		{"P3 multi-antenna v1", append(header(1, "0001", PushData, "0102030405060708"), p3JSON...),
			PushDataPacket{Version: 1, Token: [2]byte{0, 1}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8},
				Payload: PushDataPayload{RXPK: []RXPK{{Tmst: 879148780, Time: CompactTime{gpsTime}, Freq: 868.5, Stat: 1,
					Modu: "LORA", DatR: DataRate{LoRa: "SF7BW125"}, CodR: "4/5", Size: 24, AESK: 42,
					Data: "gM+AMQcAvgQBlohnlJqUGOJKTDuTscQD",
					RSig: []RSig{
						{Ant: 0, Chan: 7, LSNR: 14, ETime: "42QMzOlYSSPMMeqVPrY0fQ==", RSSIS: -92, RSSIC: -95, FTime: 1255738435, FOff: -8898},
						{Ant: 1, Chan: 23, LSNR: 14, ETime: "djGiSzOC+gCT7vRPv7+Asw==", RSSIS: -88, RSSIC: -93, FTime: 1252538436, FOff: -8898},
					}}}}}},
		{"P5 sx1302 v1.6 fields", append(header(2, "0001", PushData, "0102030405060708"), p5JSON...),
			PushDataPacket{Version: 2, Token: [2]byte{0, 1}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8},
				Payload: PushDataPayload{RXPK: []RXPK{{Tmst: 3512348611,
					Time: CompactTime{time.Date(2020, 10, 1, 9, 30, 52, 592567000, time.UTC)}, Tmms: 1285579871592,
					FTime: 85224290, Chan: 2, Freq: 866.349812, MID: 3, Stat: 1, Modu: "LORA",
					DatR: DataRate{LoRa: "SF7BW125"}, CodR: "4/6", RSSI: -35, LSNR: 5.1, FOff: -3313, Size: 32,
					Data: "-DS4CGaDCdG+48eJNM3Vai-zDpsR71Pn9CPA9uCON84"}}}}},
		{"SX1303 jver tm32 SF5", append(header(2, "0001", PushData, "0102030405060708"), sx1303JSON...),
			PushDataPacket{Version: 2, Token: [2]byte{0, 1}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8},
				Payload: PushDataPayload{RXPK: []RXPK{{JVer: 1, Tmst: 1305359278, Tm32: 3116791260, Freq: 868.1,
					RFCh: 1, MID: 8, Stat: -1, Modu: "LORA", DatR: DataRate{LoRa: "SF5BW125"}, CodR: "4/7",
					RSSIS: -100, LSNR: -6.8, FOff: 19378, RSSI: -93, Size: 17, Data: "QPF9vkkAAgABlUN4disR/w0="}}}}},
		{"P6 minimal {} little-endian token 123", mustHex("027b00000102030405060708 7b7d"),
			PushDataPacket{Version: 2, Token: [2]byte{123, 0}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"trailing NUL, FSK numeric datr, empty time, unknown fields, meta, brd, hpw",
			append(header(2, "0a0b", PushData, "0102030405060708"),
				`{"rxpk":[{"time":"","tmst":1,"freq":868.8,"chan":8,"rfch":1,"brd":3,"stat":1,"modu":"FSK","datr":50000,"rssi":-70,"size":3,"data":"AQID","meta":{"k":"v"},"new":{"x":[1]}}],"hpw":8}`+"\x00\x00"...),
			PushDataPacket{Version: 2, Token: [2]byte{0x0a, 0x0b}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8},
				Payload: PushDataPayload{RXPK: []RXPK{{Tmst: 1, Freq: 868.8, Chan: 8, RFCh: 1, Brd: 3, Stat: 1, Modu: "FSK",
					DatR: DataRate{FSK: 50000}, RSSI: -70, Size: 3, Data: "AQID", Meta: map[string]string{"k": "v"}}}}}},
		{"LR-FHSS", append(header(2, "0001", PushData, "0102030405060708"),
			`{"rxpk":[{"tmst":7,"freq":868.1,"stat":1,"modu":"LR-FHSS","datr":"M0CW137","codr":"2/6","hpw":52,"rssi":-80,"size":1,"data":"QA"}]}`...),
			PushDataPacket{Version: 2, Token: [2]byte{0, 1}, GatewayEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8},
				Payload: PushDataPayload{RXPK: []RXPK{{Tmst: 7, Freq: 868.1, Stat: 1, Modu: "LR-FHSS",
					DatR: DataRate{LoRa: "M0CW137"}, CodR: "2/6", HPW: 52, RSSI: -80, Size: 1, Data: "QA"}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got PushDataPacket
			if err := got.UnmarshalBinary(tc.in); err != nil {
				t.Fatal(err)
			}
			if len(got.Payload.RXPK) == 0 {
				got.Payload.RXPK = nil
			}
			if !reflect.DeepEqual(withoutScratch(got), tc.want) {
				t.Fatalf("decode:\n got %+v\nwant %+v", got, tc.want)
			}
			// Round trip: struct → bytes → struct.
			b, err := got.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[:12], tc.in[:12]) {
				t.Errorf("header % x, want % x", b[:12], tc.in[:12])
			}
			var again PushDataPacket
			if err := again.UnmarshalBinary(b); err != nil {
				t.Fatalf("re-decode %s: %v", b, err)
			}
			if len(again.Payload.RXPK) == 0 {
				again.Payload.RXPK = nil
			}
			if !reflect.DeepEqual(withoutScratch(again), withoutScratch(got)) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", again, got)
			}
		})
	}
}

func TestPushDataStat(t *testing.T) {
	in := append(header(2, "0001", PushData, "0102030405060708"), p4JSON...)
	var p PushDataPacket
	if err := p.UnmarshalBinary(in); err != nil {
		t.Fatal(err)
	}
	s := p.Payload.Stat
	if s == nil || len(p.Payload.RXPK) != 0 {
		t.Fatalf("want stat only, got %+v", p.Payload)
	}
	if want := time.Date(2017, 6, 8, 9, 40, 42, 0, time.UTC); !s.Time.Equal(want) {
		t.Errorf("time %v, want %v", s.Time, want)
	}
	lat, lon, alt, ok := s.Position()
	if !ok || lat != 52.34223 || lon != 5.29685 || alt != 66 {
		t.Errorf("position %v %v %v %v", lat, lon, alt, ok)
	}
	if s.Temp == nil || *s.Temp != 30.5 || s.Boot != "2017-06-07 09:40:42 GMT" {
		t.Errorf("temp/boot %v %q", s.Temp, s.Boot)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var again PushDataPacket
	if err := again.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !again.Payload.Stat.Time.Equal(s.Time.Time) {
		t.Errorf("round trip time %v", again.Payload.Stat.Time)
	}
	again.Payload.Stat.Time, s.Time = ExpandedTime{}, ExpandedTime{}
	if !reflect.DeepEqual(again.Payload.Stat, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", again.Payload.Stat, s)
	}
}

// A stat time in the wrong format must not cost the rxpk beside it.
func TestPushDataLenientStatTime(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"2014-01-12T08:59:28Z"`, "2014-01-12T08:59:28Z"},
		{`"yesterday"`, ""},
		{`""`, ""},
		{`null`, ""},
		{`12`, ""},
	} {
		in := append(header(2, "0001", PushData, "0102030405060708"),
			`{"stat":{"time":`+tc.in+`,"rxnb":2},"rxpk":[{"tmst":1,"stat":1,"data":"AQ=="}]}`...)
		var p PushDataPacket
		if err := p.UnmarshalBinary(in); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got := ""
		if !p.Payload.Stat.Time.IsZero() {
			got = p.Payload.Stat.Time.UTC().Format(time.RFC3339)
		}
		if got != tc.want || p.Payload.Stat.RXNb != 2 || len(p.Payload.RXPK) != 1 {
			t.Errorf("%s: time %q, stat %+v", tc.in, got, p.Payload.Stat)
		}
	}
}

func TestPushDataErrors(t *testing.T) {
	h := header(2, "0001", PushData, "0102030405060708")
	tests := []struct {
		name string
		in   []byte
		want *Error
	}{
		{"empty", nil, ErrTooShort},
		{"3 bytes", []byte{2, 0, 1}, ErrTooShort},
		{"no EUI", []byte{2, 0, 1, 0, 1, 2, 3}, ErrTooShort},
		{"version 3", append([]byte{3}, h[1:]...), ErrUnknownVersion},
		{"version 0", append([]byte{0}, h[1:]...), ErrUnknownVersion},
		{"type 9", append([]byte{2, 0, 1, 9}, h[4:]...), ErrUnknownType},
		{"PULL_DATA", header(2, "0001", PullData, "0102030405060708"), ErrWrongType},
		{"header only", h, ErrNoJSON},
		{"only NUL", append(h, 0, 0), ErrNoJSON},
		{"garbage", append(h, "not json"...), ErrBadJSON},
		{"truncated", append(h, p1JSON[:60]...), ErrBadJSON},
		{"tmst as string", append(h, `{"rxpk":[{"tmst":"1"}]}`...), ErrBadJSON},
		{"tmst negative", append(h, `{"rxpk":[{"tmst":-1}]}`...), ErrBadJSON},
		{"datr negative", append(h, `{"rxpk":[{"datr":-5}]}`...), ErrBadJSON},
		{"rxpk object", append(h, `{"rxpk":{}}`...), ErrBadJSON},
		{"array", append(h, `[]`...), ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p PushDataPacket
			err := p.UnmarshalBinary(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if Reason(err) != tc.want.Reason() {
				t.Fatalf("reason %q, want %q", Reason(err), tc.want.Reason())
			}
		})
	}
}

func TestRXPKPayload(t *testing.T) {
	want := mustHex("40F17DBE4900020001954378762B11FF0D")
	for _, in := range []string{"QPF9vkkAAgABlUN4disR/w0=", "QPF9vkkAAgABlUN4disR/w0"} {
		r := RXPK{Data: in}
		got, err := r.Payload()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: % x %v", in, got, err)
		}
	}
	for _, in := range []string{"-DS4CGaDCdG+48eJNM3Vai-zDpsR71Pn9CPA9uCON84", "QPF9v=kk", "Q", "@@@@"} {
		r := RXPK{Data: in}
		if _, err := r.Payload(); !errors.Is(err, ErrBadBase64) || Reason(err) != "bad_base64" {
			t.Errorf("%q: err %v", in, err)
		}
	}
	// AppendPayload keeps what dst held.
	r := RXPK{Data: "AQID"}
	got, err := r.AppendPayload([]byte{9})
	if err != nil || !bytes.Equal(got, []byte{9, 1, 2, 3}) {
		t.Errorf("append: %v %v", got, err)
	}
	r.SetPayload(want)
	if r.Data != "QPF9vkkAAgABlUN4disR/w0=" || r.Size != 17 {
		t.Errorf("SetPayload: %q %d", r.Data, r.Size)
	}
}

// Reusing a packet must not leak fields of an earlier datagram.
func TestPushDataReuse(t *testing.T) {
	var p PushDataPacket
	if err := p.UnmarshalBinary(append(header(2, "0001", PushData, "0102030405060708"), p3JSON...)); err != nil {
		t.Fatal(err)
	}
	if err := p.UnmarshalBinary(append(header(2, "0001", PushData, "0102030405060708"), `{"rxpk":[{"tmst":5}]}`...)); err != nil {
		t.Fatal(err)
	}
	if want := (RXPK{Tmst: 5}); !reflect.DeepEqual(p.Payload.RXPK, []RXPK{want}) {
		t.Fatalf("stale fields: %+v", p.Payload.RXPK)
	}
}

func TestParseLoRaDataRate(t *testing.T) {
	for _, tc := range []struct {
		in     string
		sf, bw int
		ok     bool
	}{
		{"SF7BW125", 7, 125, true}, {"SF12BW500", 12, 500, true}, {"SF5BW250", 5, 250, true},
		{"SF10BW812", 10, 812, true},
		{"SF4BW125", 0, 0, false}, {"SF13BW125", 0, 0, false}, {"SF?BW125", 0, 0, false},
		{"SF7BW?", 0, 0, false}, {"SF7BW", 0, 0, false}, {"SFBW125", 0, 0, false},
		{"SF+7BW125", 0, 0, false}, {"SF7BW-125", 0, 0, false}, {"M0CW137", 0, 0, false}, {"", 0, 0, false},
	} {
		sf, bw, ok := ParseLoRaDataRate(tc.in)
		if sf != tc.sf || bw != tc.bw || ok != tc.ok {
			t.Errorf("%q: %d %d %v", tc.in, sf, bw, ok)
		}
	}
}

func TestDataRateJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DataRate
		out  string
	}{
		{`"SF7BW125"`, DataRate{LoRa: "SF7BW125"}, `"SF7BW125"`},
		{`"SF7\u0042W125"`, DataRate{LoRa: "SF7BW125"}, `"SF7BW125"`},
		{`50000`, DataRate{FSK: 50000}, `50000`},
		{`5e4`, DataRate{FSK: 50000}, `50000`},
		{`null`, DataRate{}, `0`},
	} {
		var d DataRate
		if err := d.UnmarshalJSON([]byte(tc.in)); err != nil || d != tc.want {
			t.Errorf("%s: %+v %v", tc.in, d, err)
		}
		if b, _ := d.MarshalJSON(); string(b) != tc.out {
			t.Errorf("%s: marshal %s", tc.in, b)
		}
	}
	if got := (DataRate{FSK: 50000}).String(); got != "50000" {
		t.Errorf("String %q", got)
	}
}
