package lpp

import (
	"encoding/hex"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The examples of myDevices' Cayenne LPP documentation, then one item of
// every other type, each checked as the page prints it.
func TestDecodeReference(t *testing.T) {
	cases := []struct {
		name, hex, want string
	}{
		{"two temperatures", "03 67 01 10 05 67 00 FF", "temperature 27.2 °C (ch 3), temperature 25.5 °C (ch 5)"},
		{"negative temperature", "01 67 FF D7", "temperature -4.1 °C"},
		{"accelerometer", "06 71 04 D2 FB 2E 00 00", "acceleration x 1.234 g, acceleration y -1.234 g, acceleration z 0.000 g"},
		{"gps", "01 88 06 76 5F F2 96 0A 00 03 E8", "latitude 42.3519 °, longitude -87.9094 °, altitude 10.00 m"},
		{"digital in/out", "01 00 01 02 01 00", "digital input 1, digital output 0"},
		{"analog in/out", "01 02 FF 9C 02 03 04 D2", "analog input -1.00, analog output 12.34"},
		{"generic sensor", "01 64 FF FF FF FF", "generic sensor 4294967295"},
		{"illuminance", "01 65 01 2C", "illuminance 300 lx"},
		{"presence", "01 66 01", "presence 1"},
		{"humidity", "02 68 53", "humidity 41.5 %"},
		{"barometer", "01 73 27 7F", "pressure 1011.1 hPa"},
		{"voltage", "01 74 01 5E", "voltage 3.50 V"},
		{"current", "01 75 04 D2", "current 1.234 A"},
		{"frequency", "01 76 00 00 C3 50", "frequency 50000 Hz"},
		{"percentage", "01 78 64", "percentage 100 %"},
		{"altitude", "01 79 FF 38", "altitude -200 m"},
		{"concentration", "01 7D 01 90", "concentration 400 ppm"},
		{"power", "01 80 05 DC", "power 1500 W"},
		{"distance", "01 82 00 00 30 39", "distance 12.345 m"},
		{"energy", "01 83 00 01 E2 40", "energy 123.456 kWh"},
		{"direction", "01 84 01 0E", "direction 270 °"},
		{"unix time", "01 85 5F 5E 10 00", "unix time 2020-09-13 12:26:40 UTC"},
		{"gyrometer", "01 86 00 64 FF 9C 00 00", "rotation x 1.00 °/s, rotation y -1.00 °/s, rotation z 0.00 °/s"},
		{"colour", "01 87 FF 80 00", "red 255, green 128, blue 0"},
		{"switch", "01 8E 01", "switch 1"},
	}
	for _, c := range cases {
		rs, err := Decode(mustHex(t, c.hex))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := Format(rs); got != c.want {
			t.Errorf("%s: %s\n got %s\nwant %s", c.name, c.hex, got, c.want)
		}
	}
}

func TestDecodeReadingFields(t *testing.T) {
	rs, err := Decode(mustHex(t, "03 67 00 ED"))
	if err != nil {
		t.Fatal(err)
	}
	want := Reading{Channel: 3, Type: "temperature", Name: "temperature", Value: 23.7, Unit: "°C", Decimals: 1}
	if len(rs) != 1 || rs[0] != want || rs[0].String() != "temperature 23.7 °C" {
		t.Fatalf("got %+v, want %+v", rs, want)
	}
}

// A payload that is not LPP throughout gives no readings at all.
func TestDecodeRefusesPartial(t *testing.T) {
	cases := map[string]string{
		"":                     "empty",
		"01":                   "a channel without a type",
		"01 67 00":             "temperature needs 2 bytes, 1 left",
		"01 67 00 ED 02":       "a channel without a type",
		"01 67 00 ED 02 29 04": "unknown type 0x29",
		"0100e202290400270506": "unknown type 0x29", // an Elsys ERS frame
		"01 F0 00":             "unknown type 0xf0", // polyline: not decoded
	}
	for h, want := range cases {
		rs, err := Decode(mustHex(t, h))
		if rs != nil || err == nil {
			t.Errorf("%q: got %v, %v; want an error", h, rs, err)
			continue
		}
		var e *Error
		if h == "" {
			if !errors.Is(err, ErrEmpty) {
				t.Errorf("empty: %v", err)
			}
		} else if !errors.As(err, &e) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", h, err, want)
		}
	}
}

// FuzzDecode: never a panic, and what decodes accounts for every byte
// (re-encoding the readings gives the payload back).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0367011005670 0ff", "0188 06765f f2960a 0003e8", "0671 04d2fb2e0000", "0100e20229", ""} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := Decode(b)
		if err != nil {
			if rs != nil {
				t.Fatal("readings with an error")
			}
			return
		}
		if got := encode(t, rs); hex.EncodeToString(got) != hex.EncodeToString(b) {
			t.Fatalf("decoded %x as %v, which encodes as %x", b, rs, got)
		}
	})
}

// encode is the reverse of Decode, for the fuzz target's check.
func encode(t *testing.T, rs []Reading) []byte {
	var out []byte
	for i := 0; i < len(rs); {
		var typ byte
		var k kind
		for id, kk := range kinds {
			if kk.name == rs[i].Type {
				typ, k = id, kk
			}
		}
		out = append(out, rs[i].Channel, typ)
		for _, f := range k.fields {
			n := int64(math.Round(rs[i].Value * f.div))
			for j := f.size - 1; j >= 0; j-- {
				out = append(out, byte(n>>(8*j)))
			}
			i++
		}
	}
	return out
}

// The fuzz seed with one item of every type decodes completely, each type
// once: the table and the seed stay in step.
func TestEveryTypeSeed(t *testing.T) {
	b, err := os.ReadFile("testdata/fuzz/FuzzDecode/every-type")
	if err != nil {
		t.Fatal(err)
	}
	lit := strings.TrimSuffix(strings.TrimPrefix(strings.Split(string(b), "\n")[1], `[]byte("`), `")`)
	raw, err := strconv.Unquote(`"` + lit + `"`)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, r := range rs {
		types[r.Type] = true
	}
	if len(types) != len(kinds) {
		t.Fatalf("the seed has %d types, the table %d", len(types), len(kinds))
	}
}
