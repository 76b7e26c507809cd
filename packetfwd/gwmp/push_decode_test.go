package gwmp

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// unmarshalPushDataJSON is PushDataPacket.UnmarshalBinary on encoding/json:
// the reference the library decoder must agree with.
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

// FuzzPushDataDecodeMatchesJSON feeds the same PUSH_DATA JSON to the
// decoder (fast path, else go-json-experiment with v1 options) and to
// encoding/json and requires the same packet, or an error from both. It
// also holds the fast path alone to the library: it gives up, or decodes
// the same packet. Seeds: testdata/fuzz/FuzzPushDataDecodeMatchesJSON (the
// vectors of the package tests, the FuzzDecode corpus' PUSH_DATA, the
// packetfwd corpora, cases for encoding/json's corners, and fast_* for the
// fast path's edges).
func FuzzPushDataDecodeMatchesJSON(f *testing.F) {
	hdr := header(2, "0001", PushData, "0102030405060708")
	prior := append(header(2, "0001", PushData, "0102030405060708"), p3JSON...)
	f.Fuzz(func(t *testing.T, js []byte) {
		in := append(hdr[:len(hdr):len(hdr)], js...)
		// Fresh packets, then packets that held a multi-antenna datagram
		// (the server reuses one).
		var got, want, fast, lib PushDataPacket
		for round := range 2 {
			fastPathMatchesLibrary(t, &fast, &lib, in)
			if err := fast.UnmarshalBinary(prior); err != nil {
				t.Fatal(err)
			}
			if err := unmarshalPushDataLibrary(&lib, prior); err != nil {
				t.Fatal(err)
			}

			errGot := got.UnmarshalBinary(in)
			errWant := unmarshalPushDataJSON(&want, in)
			// The messages may differ; both must refuse.
			if (errGot == nil) != (errWant == nil) {
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
	})
}

// samePacket compares deeply, and also the bits of every float (DeepEqual
// has -0 == 0) through the encoding.
func samePacket(t *testing.T, got, want *PushDataPacket) {
	t.Helper()
	if !reflect.DeepEqual(withoutScratch(*got), withoutScratch(*want)) {
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

// withoutScratch returns p without the fast path's scratch space, which a
// packet decoded by encoding/json does not have.
func withoutScratch(p PushDataPacket) PushDataPacket {
	p.fast = nil
	return p
}

// The corners of encoding/json the decoder must copy, checked against it.
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
	}
}
