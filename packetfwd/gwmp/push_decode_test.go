package gwmp

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"testing"
)

// unmarshalPushDataJSON is PushDataPacket.UnmarshalBinary as it was with
// encoding/json alone: the reference the fast decoder must agree with.
func unmarshalPushDataJSON(p *PushDataPacket, b []byte) error {
	js, err := p.start(b)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(js, &p.Payload); err != nil {
		return wrap(ErrBadJSON, err)
	}
	return nil
}

// FuzzPushDataDecodeMatchesJSON feeds the same PUSH_DATA JSON to the fast
// decoder and to encoding/json and requires the same packet, or the same
// error. Seeds: testdata/fuzz/FuzzPushDataDecodeMatchesJSON (the vectors
// of the package tests, the FuzzDecode corpus' PUSH_DATA, the packetfwd
// corpora, and cases for encoding/json's corners).
func FuzzPushDataDecodeMatchesJSON(f *testing.F) {
	hdr := header(2, "0001", PushData, "0102030405060708")
	prior := append(header(2, "0001", PushData, "0102030405060708"), p3JSON...)
	f.Fuzz(func(t *testing.T, js []byte) {
		in := append(hdr[:len(hdr):len(hdr)], js...)
		// Fresh packets, then packets that held a multi-antenna datagram
		// (the server reuses one).
		var got, want PushDataPacket
		for round := range 2 {
			errGot := got.UnmarshalBinary(in)
			errWant := unmarshalPushDataJSON(&want, in)
			if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
				t.Fatalf("round %d: error %v, encoding/json %v", round, errGot, errWant)
			}
			if errGot == nil {
				samePacket(t, &got, &want)
			}
			if err := got.UnmarshalBinary(prior); err != nil {
				t.Fatal(err)
			}
			if err := unmarshalPushDataJSON(&want, prior); err != nil {
				t.Fatal(err)
			}
		}
		// The fast decoder alone: what it accepts, encoding/json accepts
		// and decodes the same.
		if trimmed := trimJSON(js); len(trimmed) > 0 {
			var fast, ref PushDataPayload
			if decodePushJSON(trimmed, &fast) {
				if err := json.Unmarshal(trimmed, &ref); err != nil {
					t.Fatalf("fast decoder accepted what encoding/json refuses: %v", err)
				}
				samePacket(t, &PushDataPacket{Payload: fast}, &PushDataPacket{Payload: ref})
			}
		}
	})
}

// samePacket compares deeply, and also the bits of every float (DeepEqual
// has -0 == 0) through the encoding.
func samePacket(t *testing.T, got, want *PushDataPacket) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded:\n got %+v\nwant %+v", got.Payload, want.Payload)
	}
	for i := range got.Payload.RXPK {
		g, w := &got.Payload.RXPK[i], &want.Payload.RXPK[i]
		fg := []float64{g.Freq, g.RSSI, g.RSSIS, g.LSNR, g.FOff}
		fw := []float64{w.Freq, w.RSSI, w.RSSIS, w.LSNR, w.FOff}
		for j := range g.RSig {
			fg = append(fg, g.RSig[j].RSSIC, g.RSig[j].RSSIS, g.RSig[j].RSSISD, g.RSig[j].LSNR, g.RSig[j].FOff, g.RSig[j].FDri)
			fw = append(fw, w.RSig[j].RSSIC, w.RSig[j].RSSIS, w.RSig[j].RSSISD, w.RSig[j].LSNR, w.RSig[j].FOff, w.RSig[j].FDri)
		}
		for j := range fg {
			if math.Float64bits(fg[j]) != math.Float64bits(fw[j]) {
				t.Fatalf("rxpk %d float %d: %v, want %v", i, j, fg[j], fw[j])
			}
		}
	}
}

// The fast decoder must take the datagrams that matter, not leave them all
// to encoding/json (which would pass the differential test too).
func TestPushDecodeFastPath(t *testing.T) {
	for name, js := range map[string]string{
		"P1": p1JSON, "P3": p3JSON, "P5": p5JSON, "SX1303": sx1303JSON, "two rxpk": twoRXPKJSON,
		"empty":      `{}`,
		"empty rxpk": ` {"rxpk":[]} `,
		"FSK":        `{"rxpk":[{"time":"","tmst":1,"freq":868.8,"chan":8,"rfch":1,"brd":3,"stat":1,"modu":"FSK","datr":50000,"rssi":-70,"size":3,"data":"AQID","new":{"x":[1,true,null,"\u00e9"]}}],"hpw":8}`,
		"LR-FHSS":    `{"rxpk":[{"tmst":7,"freq":868.1,"stat":1,"modu":"LR-FHSS","datr":"M0CW137","codr":"2/6","hpw":52,"rssi":-80,"size":1,"data":"QA"}]}`,
		"escapes":    `{"rxpk":[{"\u0074mst":7,"DATA":"Q\/A=","modu":"LO\u0052A","lsnr":-1.5e1,"stat":null,"rsig":null}],"stat":null}`,
	} {
		var pl PushDataPayload
		if !decodePushJSON([]byte(js), &pl) {
			t.Errorf("%s: left to encoding/json", name)
		}
	}
	// And leaves what it does not handle.
	for _, js := range []string{p4JSON, `null`, `{"rxpk":[{"meta":{"a":"b"}}]}`, `{"rxpk":[{"aeſk":1}]}`,
		`{"rxpk":[{"tmst":-0}]}`, `{"rxpk":[{"chan":1.0}]}`, `{"rxpk":[{"datr":-1}]}`, `{"rxpk":[{"modu":1}]}`,
		`{"rxpk":[{"x":"\'"}]}`, `{"rxpk":[]}x`, `{"rxpk":[{"freq":1e999}]}`} {
		var pl PushDataPayload
		if decodePushJSON([]byte(js), &pl) {
			t.Errorf("%s: decoded, want encoding/json", js)
		}
	}
}

// The corners of encoding/json the decoder copies, checked against it.
func TestPushDecodeCorners(t *testing.T) {
	hdr := header(2, "0001", PushData, "0102030405060708")
	for _, js := range []string{
		`{"rxpk":[{"tmst":1,"data":"AQ=="}],"rxpk":[{"chan":2}]}`,
		`{"rxpk":[{"tmst":1},{"tmst":2},{"tmst":3}],"rxpk":[{"chan":2}],"rxpk":[{},{},{}]}`,
		`{"rxpk":[{"tmst":1}],"rxpk":[],"rxpk":[{}]}`,
		`{"rxpk":[{"tmst":1}],"rxpk":null}`,
		`{"rxpk":[null,{"tmst":1}]}`,
		`{"RXPK":[{"TMST":1,"Data":"AQ==","rSiG":[{"ANT":1},null]}]}`,
		`{"rxpk":[{"rsig":[{"ant":1},{"ant":2}],"rsig":[{"chan":3}]}]}`,
		`{"rxpk":[{"rsig":[{"ant":1},{"ant":2}],"rsig":[{"chan":3}],"rsig":[{},{}]}]}`,
		`{"rxpk":[{"tmst":5,"tmst":null,"data":"x","data":null,"datr":"SF7BW125","datr":null,"time":"2020-01-01T00:00:00Z","time":null}]}`,
		`{"rxpk":[{"freq":-0,"rssi":-0.0,"lsnr":1e-400,"foff":123456789012345678,"size":-9223372036854775808}]}`,
		`{"rxpk":[{"data":"\ud800\udc00\ud800x\udc00\u00e9` + "\xff\xc3\xed\xa0\x80\xef\xbf\xbd" + `"}]}`,
		`{"rxpk":[{"codr":"4\/5","modu":"\u004cORA","datr":"SF\u0037BW125","time":"\u0032020-01-01T00:00:00Z"}]}`,
		`{"rxpk":[{"time":{"a":1},"datr":5e4}]}`,
		`{"rxpk":[{"time":"2020-01-01T00:00:00+02:00","datr":4294967295.0},{"datr":1.9}]}`,
	} {
		var got, want PushDataPacket
		in := append(hdr[:len(hdr):len(hdr)], js...)
		errGot, errWant := got.UnmarshalBinary(in), unmarshalPushDataJSON(&want, in)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%s: error %v, encoding/json %v", js, errGot, errWant)
		}
		samePacket(t, &got, &want)
		var pl PushDataPayload
		if !decodePushJSON(bytes.Clone([]byte(js)), &pl) {
			t.Errorf("%s: left to encoding/json", js)
		}
	}
}

func TestExactDecimal(t *testing.T) {
	for _, s := range []string{"868.100000", "-0.0", "0.5", "-89.25", "123456789012.345", "1.000000000000001",
		"0.000000000000001", "9007199254.740993", "-35.0", "868.3", "867.8999999", "0.000000000000000000001"} {
		f, ok := exactDecimal([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if ok && math.Float64bits(f) != math.Float64bits(want) {
			t.Errorf("%s: %v, want %v", s, f, want)
		}
		if !ok && len(s) < 16 {
			t.Errorf("%s: left to ParseFloat", s)
		}
	}
}

// The strings of a datagram share one allocation.
func TestPushDecodeAllocs(t *testing.T) {
	in := append(header(2, "0001", PushData, "0102030405060708"), twoRXPKJSON...)
	var p PushDataPacket
	if n := testing.AllocsPerRun(100, func() {
		if err := p.UnmarshalBinary(in); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("%v allocations per datagram, want 1", n)
	}
}
