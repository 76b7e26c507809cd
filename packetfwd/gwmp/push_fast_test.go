package gwmp

import (
	"math"
	"reflect"
	"strconv"
	"strings"
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
		"skipped values": `{"rxpk":[{"x":"]}\"\\","tmst":1,"y" : [ {"z":"}{[\""} , [1e5,-2E-3,true,false,null] ] ,"chan":2,	"w":{"a":[]},"data":"\"]","rssi":-1.5e2}]}`,
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

// The fast path nests as deep as encoding/json and the library: 10,000
// levels, here three of them the datagram's own.
func TestFastPathDepthLimit(t *testing.T) {
	hdr := header(2, "0001", PushData, "0102030405060708")
	for n, ok := range map[int]bool{9997: true, 9998: false} {
		js := `{"rxpk":[{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}]}`
		in := append(hdr[:len(hdr):len(hdr)], js...)
		var fast, lib, ref PushDataPacket
		if got := fastPathMatchesLibrary(t, &fast, &lib, in); got != ok {
			t.Errorf("depth %d: fast path %v, want %v", n, got, ok)
		}
		if err := unmarshalPushDataJSON(&ref, in); (err == nil) != ok {
			t.Errorf("depth %d: encoding/json: %v", n, err)
		}
	}
}

// FuzzPushDataFastPathMatchesLibrary puts two fuzzed members, a raw name
// and a raw value each, into a forwarder's datagram, at the top level, in
// the rxpk, in its rsig or in its meta (where's low bits for the first,
// the next two for the second), so that most inputs reach the fast path's
// value and name handling instead of failing on syntax. The fast path must
// give up or decode what the library decodes, and UnmarshalBinary what
// encoding/json decodes. FuzzPushDataDecodeMatchesJSON covers arbitrary
// input.
func FuzzPushDataFastPathMatchesLibrary(f *testing.F) {
	for _, s := range []struct {
		where          uint8
		n1, v1, n2, v2 string
	}{
		{1, "rssi", "-89", "lsnr", "10.5"},
		{1, "jver", "1", "tm32", "4294967295"},
		{1, "tm32", "4294967296", "chan", "-0"},
		{1, "tmms", "-9223372036854775808", "ftime", "9223372036854775808"},
		{1, "foff", "123456789012345678901234567890", "rssis", "-1.5E+2"},
		{1, "freq", "1e400", "lsnr", "4.9e-324"},
		{1, "chan", "1.0", "rfch", "1e2"},
		{1, "modu", `"FSK"`, "datr", "50000"},
		{1, "modu", `"LR-FHSS"`, "datr", `"M0CW137"`},
		{1, "datr", `"SF7BW125"`, "codr", `"4\/5"`},
		{1, "datr", "-1", "codr", `"4/5LI"`},
		{1, "time", `"2020-01-01T00:00:00+02:00"`, "hpw", "52"},
		{1, "time", "null", "mid", "3"},
		{1, "data", `"\u0041Q=="`, "size", "1"},
		{1, "x", `{"rxpk":[null,{"tmst":2}]}`, "y", "[]"},
		{1, "x", `"]}\"\\"`, "chan", " 2 "},
		{1, "y", ` [ {"a":"]"} , [ 1e5, "\\" ] ] `, "rssi", "-1.5E+2"},
		{1, "RSSI", "-1", "rssi", "-2"},
		{1, "rssi", "-1", "rssi", "-2"},
		{1, "aesk", "true", "brd", `"1"`},
		{5, "rssi", "-1", "chan", "2"},
		{2, "chan", "7", "rssic", "-95"},
		{2, "etime", `"42QMzOlYSSPMMeqVPrY0fQ=="`, "fdri", "-0.5"},
		{2, "ftime", "1255738435", "rssisd", "0"},
		{10, "Ant", "1", "ANT", "2"},
		{3, "gateway_id", `"0102"`, "b", `""`},
		{15, "a", `"1"`, "\u00e9", `"\ud83d\ude00"`},
		{3, "k", "null", "l", "1"},
		{0, "x", "1", "stat", `{"rxnb":1}`},
		{0, "Rxpk", "[]", "y", "null"},
		{0, "rxpk", "[]", "z", "{}"},
	} {
		f.Add(s.where, s.n1, s.v1, s.n2, s.v2)
	}
	hdr := header(2, "0001", PushData, "0102030405060708")
	f.Fuzz(func(t *testing.T, where uint8, n1, v1, n2, v2 string) {
		var at [4]string // top, rxpk, rsig, meta
		at[where&3] += `,"` + n1 + `":` + v1
		at[where>>2&3] += `,"` + n2 + `":` + v2
		js := `{"rxpk":[{"tmst":1,"data":"AQ=="` + at[1] +
			`,"rsig":[{"ant":0` + at[2] + `}],"meta":{"a":"b"` + at[3] + `}}]` + at[0] + `}`
		in := append(hdr[:len(hdr):len(hdr)], js...)
		var fast, lib, got, want PushDataPacket
		fastPathMatchesLibrary(t, &fast, &lib, in)
		errGot, errWant := got.UnmarshalBinary(in), unmarshalPushDataJSON(&want, in)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%s: error %v, encoding/json %v", js, errGot, errWant)
		}
		if errGot == nil {
			samePacket(t, &got, &want)
		}
	})
}

// A field added to RXPK, RSig or PushDataPayload must be added to the fast
// path's names too; otherwise the fast path would skip it as unknown.
func TestFastPathKnowsEveryField(t *testing.T) {
	for typ, key := range map[reflect.Type]func([]byte) int{
		reflect.TypeFor[PushDataPayload](): payloadKey,
		reflect.TypeFor[RXPK]():            rxpkKey,
		reflect.TypeFor[RSig]():            rsigKey,
	} {
		seen := map[int]bool{}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			k := key([]byte(name))
			if k < 0 || seen[k] {
				t.Errorf("%s.%s: %q is %d for the fast path", typ.Name(), f.Name, name, k)
			}
			seen[k] = true
		}
	}
}

// The integer readers' own path must give what strconv gives, or leave
// the number to it.
func TestSmallIntMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-7", "2147483647", "-2147483647", "2147483648", "-2147483648",
		"4294967295", "4294967296", "9999999999", "-9999999999", "10000000000", "1.5", "1e3", "-", ""} {
		checkSmallInts(t, s)
	}
}

// checkSmallInts compares what the integer readers take of s with strconv.
func checkSmallInts(t *testing.T, s string) {
	t.Helper()
	if n, ok := signedSmall([]byte(s)); ok {
		want, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n != want {
			t.Errorf("signedSmall(%q) = %d, strconv %d, %v", s, n, want, err)
		}
	}
	if n, neg, ok := smallInt([]byte(s)); ok && !neg && n <= math.MaxUint32 {
		want, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n != want {
			t.Errorf("smallInt(%q) = %d, strconv %d, %v", s, n, want, err)
		}
	}
}

// FuzzSmallNumbersMatchStrconv: whatever the fast path's number readers
// take, they read as strconv does.
func FuzzSmallNumbersMatchStrconv(f *testing.F) {
	for _, s := range []string{"868.1", "-57", "9.5", "-0", "0.000001", "123456789012345", "1.5e3", "4294967295", "-2147483648", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if x, ok := smallFloat([]byte(s)); ok {
			want, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Float64bits(x) != math.Float64bits(want) {
				t.Errorf("smallFloat(%q) = %v, strconv %v, %v", s, x, want, err)
			}
		}
		checkSmallInts(t, s)
	})
}
