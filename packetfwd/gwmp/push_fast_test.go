package gwmp

import (
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// unmarshalPushDataLibrary is PushDataPacket.UnmarshalBinary without the
// fast path: the library alone.
func unmarshalPushDataLibrary(p *PushDataPacket, b []byte) error {
	js, err := p.start(b)
	if err != nil {
		return err
	}
	if err := jsonv2.Unmarshal(js, &p.Payload, jsonv1.DefaultOptionsV1()); err != nil {
		return wrap(ErrBadJSON, err)
	}
	return nil
}

// fastPathMatchesLibrary requires the fast path on in to give up, or to
// decode what the library decodes. It reports whether it took in.
func fastPathMatchesLibrary(t *testing.T, fast, lib *PushDataPacket, in []byte) bool {
	t.Helper()
	js, err := fast.start(in)
	if err != nil {
		return false
	}
	ok := fast.decodeFast(js)
	errLib := unmarshalPushDataLibrary(lib, in)
	if ok {
		if errLib != nil {
			t.Fatalf("fast path decoded %q, the library refuses it: %v", js, errLib)
		}
		samePacket(t, fast, lib)
	}
	return ok
}

// The load's datagrams, and what real forwarders add to them, take the
// fast path and decode as the library and encoding/json decode them.
func TestFastPathTakesForwardersDatagrams(t *testing.T) {
	hdr := header(2, "0001", PushData, "0102030405060708")
	for name, js := range map[string]string{
		"P1":             p1JSON,
		"every field":    `{"rxpk":[{"jver":2,"time":"2020-10-01T09:30:52.592567Z","tmms":1285579871592,"tmst":3512348611,"tm32":3116791260,"ftime":85224290,"freq":866.349812,"chan":2,"rfch":1,"mid":3,"brd":1,"aesk":42,"stat":-1,"modu":"LORA","datr":"SF12BW500","codr":"4/8","hpw":8,"rssi":-35,"rssis":-36.5,"lsnr":-5.1,"foff":-3313,"size":4,"data":"AQIDBA==","rsig":[{"ant":0,"chan":7,"rssic":-95,"rssis":-92,"rssisd":1.5,"lsnr":14.0,"etime":"42QMzOlYSSPMMeqVPrY0fQ==","ftime":1255738435,"foff":-8898,"fdri":-0.5}],"meta":{"gateway_name":"gw","n":""}}]}`,
		"time forms":     `{"rxpk":[{"time":"2017-07-04T13:51:17.997099Z"},{"time":"2020-01-01T00:00:00+02:00"},{"time":""},{"time":"garbage"},{"time":"2020-01-01T00:00:00\u005a"}]}`,
		"two rxpk":       twoRXPKJSON,
		"multi-antenna":  p3JSON,
		"sx1302":         p5JSON,
		"sx1303":         sx1303JSON,
		"empty":          `{}`,
		"no rxpk":        `{"rxpk":[]}`,
		"white space":    " {\"rxpk\" : [ {\"tmst\" : 1 } ] }\r\n\x00",
		"FSK":            `{"rxpk":[{"tmst":1,"modu":"FSK","datr":50000,"freq":868.8,"rssi":-70,"size":2,"data":"AQI="}]}`,
		"LR-FHSS":        `{"rxpk":[{"tmst":7,"freq":868.1,"stat":1,"modu":"LR-FHSS","datr":"M0CW137","codr":"2/6","hpw":52,"rssi":-80,"size":1,"data":"QA"}]}`,
		"meta":           `{"rxpk":[{"tmst":1,"meta":{"gateway_id":"0102","region":"EU868"},"data":""}]}`,
		"unknown fields": `{"rxpk":[{"tmst":1,"x":{"tmst":[null,{"a":"b"}]},"rsig":[{"ant":0,"y":[1]}]}],"extra":null}`,
		"numbers":        `{"rxpk":[{"tmst":4294967295,"chan":-1,"freq":-0,"rssi":-1.5e2,"lsnr":1E-400,"foff":123456789012345678901234567890,"tmms":-9223372036854775808}]}`,
		"escapes":        `{"rxpk":[{"codr":"4\/5","data":"\u0041Q==","meta":{"\u00e9":"\ud83d\ude00"}}]}`,
	} {
		in := append(hdr[:len(hdr):len(hdr)], js...)
		var fast, lib, ref PushDataPacket
		if !fastPathMatchesLibrary(t, &fast, &lib, in) {
			t.Errorf("%s: the fast path gave up", name)
		}
		if err := unmarshalPushDataJSON(&ref, in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		samePacket(t, &fast, &ref)
	}
}

// Whatever is ambiguous, or rare, is left to the library, which decodes it
// as encoding/json does.
func TestFastPathGivesUp(t *testing.T) {
	hdr := header(2, "0001", PushData, "0102030405060708")
	for _, js := range []string{
		p4JSON, // stat
		`{"rxpk":[],"stat":{}}`,
		`{"RXPK":[{"tmst":1}]}`,
		`{"rxpk":[{"Tmst":1}]}`,
		`{"rxpk":[{"rsig":[{"ANT":1}]}]}`,
		"{\"rxpk\":[{\"r\u017fsi\":-1}]}", // long s folds to s
		"{\"rxpk\":[{\"\u212aey\":1}]}",   // any non-ASCII name
		`{"rxpk":[{"t\u006dst":1}]}`,
		`{"rxpk":[{"tmst":1}],"rxpk":[{"chan":2}]}`,
		`{"rxpk":[{"tmst":1,"tmst":2}]}`,
		`{"rxpk":[{"rsig":[{"ant":1,"ant":2}]}]}`,
		`{"rxpk":[{"meta":{"a":"1","a":"2"}}]}`,
		`{"rxpk":null}`,
		`{"rxpk":[null]}`,
		`{"rxpk":[{"tmst":null}]}`,
		`{"rxpk":[{"data":null}]}`,
		`{"rxpk":[{"rsig":[null]}]}`,
		`{"rxpk":[{"meta":{"a":null}}]}`,
		`null`,
		`[]`,
		`{"rxpk":[]}{}`,
		`{"rxpk":[]}x`,
		`{"rxpk":[{"chan":1.0}]}`,
		`{"rxpk":[{"chan":1e2}]}`,
		`{"rxpk":[{"tmst":-0}]}`,
		`{"rxpk":[{"tmst":4294967296}]}`,
		`{"rxpk":[{"tmms":9223372036854775808}]}`,
		`{"rxpk":[{"rssi":1e400}]}`,
		`{"rxpk":[{"rssi":"-80"}]}`,
		`{"rxpk":[{"data":1}]}`,
		`{"rxpk":[{"time":{"a":1}}]}`,
		`{"rxpk":[{"datr":true}]}`,
		`{"rxpk":[{"datr":-1}]}`,
		`{"rxpk":[{"meta":{"a":1}}]}`,
		"{\"rxpk\":[{\"data\":\"\xff\"}]}",
		`{"rxpk":[{"data":"x"}`,
	} {
		in := append(hdr[:len(hdr):len(hdr)], js...)
		var fast, lib, got, want PushDataPacket
		if fastPathMatchesLibrary(t, &fast, &lib, in) {
			t.Errorf("%s: the fast path took it", js)
		}
		errGot, errWant := got.UnmarshalBinary(in), unmarshalPushDataJSON(&want, in)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%s: error %v, encoding/json %v", js, errGot, errWant)
		}
		if errGot == nil {
			samePacket(t, &got, &want)
		} else if Reason(errGot) != "bad_json" {
			t.Errorf("%s: %v", js, errGot)
		}
	}
}

// A copy of a packet decodes with its own scratch space, so that copies
// can be used apart.
func TestFastPathScratchIsPerPacket(t *testing.T) {
	var p PushDataPacket
	if err := p.UnmarshalBinary(p1); err != nil {
		t.Fatal(err)
	}
	q := p
	if err := q.UnmarshalBinary(p1); err != nil {
		t.Fatal(err)
	}
	if p.fast == nil || q.fast == nil || p.fast == q.fast {
		t.Fatal("the copy shares the scratch space")
	}
}
