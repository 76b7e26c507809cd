package uplink

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
)

func testUplink(t testing.TB) Uplink {
	return Uplink{
		DevEUI:     eui(0xab),
		DevAddr:    devAddr(t, "49be7df1"),
		MType:      lorawan.ConfirmedDataUp,
		ADR:        true,
		FCnt:       70000,
		FPort:      1,
		Payload:    []byte("test\xff"),
		MIC:        lorawan.MIC{0x2b, 0x11, 0xff, 0x0d},
		ReceivedAt: time.Date(2026, 11, 25, 12, 0, 0, 987654321, time.FixedZone("CET", 3600)),
		Frequency:  868.1,
		SF:         7,
		DataRate:   "SF7BW125",
		Receptions: []Reception{
			{GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 0x01, 0x0f}, RSSI: -80, SNR: 7, RFChain: 1,
				HasPosition: true, Latitude: 45.851032, Longitude: 1.26623},
			{GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 0x01, 0x10}, RSSI: -118, SNR: -4},
		},
	}
}

func TestAppendDocument(t *testing.T) {
	u := testUplink(t)
	b := AppendDocument([]byte("prefix"), &u, true, DocOptions{})
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatal("dst not kept")
	}
	b = b[len("prefix"):]
	var doc struct {
		Up map[string]any `json:"DevEUI_uplink"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	want := map[string]any{
		"Time":         "2026-11-25T11:00:00.987+00:00",
		"DevEUI":       "70B3D57ED00000AB",
		"DevAddr":      "49BE7DF1",
		"FPort":        1.0,
		"FCntUp":       70000.0,
		"MType":        4.0,
		"ADRbit":       1.0,
		"AckRequested": 1.0,
		"payload_hex":  "74657374ff",
		"mic_hex":      "2b11ff0d",
		"LrrRSSI":      -80.0,
		"LrrSNR":       7.0,
		"LrrESP":       -80.790097,
		"SpFact":       7.0,
		"Frequency":    868.1,
		"Lrrid":        "0000010F",
		"LrrLAT":       45.851032,
		"LrrLON":       1.26623,
		"Lrrs": map[string]any{"Lrr": []any{
			map[string]any{"Lrrid": "0000010F", "Chain": 1.0, "LrrRSSI": -80.0, "LrrSNR": 7.0, "LrrESP": -80.790097},
			map[string]any{"Lrrid": "00000110", "Chain": 0.0, "LrrRSSI": -118.0, "LrrSNR": -4.0, "LrrESP": -123.455405},
		}},
		"DevLrrCnt":         2.0,
		"Late":              1.0,
		"CustomerID":        "0",
		"PayloadEncryption": 0.0,
	}
	if !reflect.DeepEqual(doc.Up, want) {
		for k, v := range want {
			if !reflect.DeepEqual(doc.Up[k], v) {
				t.Errorf("%s = %#v, want %#v", k, doc.Up[k], v)
			}
		}
		for k := range doc.Up {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected field %s", k)
			}
		}
		t.Fatalf("document %s", b)
	}

	// Unconfirmed, no ADR, ACK set, not late, no position, a CustomerID
	// that needs escaping, and more than ten receptions.
	u.MType, u.ADR, u.ACK = lorawan.UnconfirmedDataUp, false, true
	u.Receptions[0].HasPosition = false
	for len(u.Receptions) < 12 {
		u.Receptions = append(u.Receptions, u.Receptions[1])
	}
	u.Payload = nil
	b = AppendDocument(nil, &u, false, DocOptions{CustomerID: "10\"0\\\n\x01é\xff"})
	doc.Up = nil
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	for k, v := range map[string]any{
		"MType": 2.0, "AckRequested": 0.0, "ACKbit": 1.0, "Late": 0.0, "DevLrrCnt": 12.0,
		"payload_hex": "", "CustomerID": "10\"0\\\n\x01é\uFFFD",
	} {
		if !reflect.DeepEqual(doc.Up[k], v) {
			t.Errorf("%s = %#v, want %#v", k, doc.Up[k], v)
		}
	}
	for _, k := range []string{"ADRbit", "LrrLAT", "LrrLON"} {
		if _, ok := doc.Up[k]; ok {
			t.Errorf("%s present", k)
		}
	}
	if n := len(doc.Up["Lrrs"].(map[string]any)["Lrr"].([]any)); n != maxLrrs {
		t.Errorf("%d Lrr entries", n)
	}
}

func TestESP(t *testing.T) {
	// Values published by ThingPark (actility-iotflow-cayenne.md §1.5).
	for _, tc := range []struct{ rssi, snr, want float64 }{
		{-80, 7, -80.7901}, {-118, -4, -123.455406}, {-84, 9.75, -84.437256},
	} {
		if got := ESP(tc.rssi, tc.snr); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("ESP(%v, %v) = %v, want %v", tc.rssi, tc.snr, got, tc.want)
		}
	}
	// The table and the formula agree on every tenth of a dB they cover.
	for k := espTableMin; k <= espTableMax; k++ {
		snr := float64(k) / 10
		if got, want := ESP(-100, snr), -100+espCorrection(snr); got != want {
			t.Fatalf("ESP(-100, %v) = %v from the table, %v computed", snr, got, want)
		}
		exact := -100 + snr - 10*math.Log10(1+math.Pow(10, snr/10))
		if math.Abs(ESP(-100, snr)-exact) > 1e-9 {
			t.Fatalf("ESP(-100, %v) = %v, formula gives %v", snr, ESP(-100, snr), exact)
		}
	}
	for _, snr := range []float64{-1e308, -400, 0, 400, 1e308, math.Inf(1), math.Inf(-1)} {
		if v := ESP(-100, snr); math.IsNaN(v) || (math.IsInf(v, 0) && !math.IsInf(snr, -1)) {
			t.Errorf("ESP(-100, %v) = %v", snr, v)
		}
	}
}

// TestAppendDocumentFloats checks that every float, including ones no radio
// reports, gives valid JSON of type number.
func TestAppendDocumentFloats(t *testing.T) {
	odd := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, -0.0, 1e-7, 123456789.123456789, 1e21, -1e-300}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() float64 {
		if rng.IntN(3) == 0 {
			return odd[rng.IntN(len(odd))]
		}
		return math.Float64frombits(rng.Uint64())
	}
	u := testUplink(t)
	for range 2000 {
		u.Frequency = pick()
		for i := range u.Receptions {
			r := &u.Receptions[i]
			r.RSSI, r.SNR, r.Latitude, r.Longitude = pick(), pick(), pick(), pick()
		}
		b := AppendDocument(nil, &u, false, DocOptions{})
		var doc struct {
			Up map[string]any `json:"DevEUI_uplink"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%v in %s", err, b)
		}
		for _, k := range []string{"LrrRSSI", "LrrSNR", "LrrESP", "LrrLAT", "LrrLON"} {
			if _, ok := doc.Up[k].(float64); !ok {
				t.Fatalf("%s = %#v in %s", k, doc.Up[k], b)
			}
		}
	}
}

func TestAppendDocumentTimeFormat(t *testing.T) {
	u := testUplink(t)
	u.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	b := AppendDocument(nil, &u, false, DocOptions{})
	if !strings.Contains(string(b), `"Time":"2026-01-02T03:04:05.006+00:00"`) {
		t.Fatalf("%s", b)
	}
}

func BenchmarkAppendDocument(b *testing.B) {
	u := testUplink(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDocument(buf[:0], &u, false, DocOptions{CustomerID: "100002164"})
	}
	b.SetBytes(int64(len(buf)))
}

// TestAppendFloatMatchesStrconv checks the fixed-point writer against
// strconv's shortest form of the value rounded to six decimals.
func TestAppendFloatMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []float64{0, 1, -1, 0.5, -0.0000004, 0.0000005, 868.1, 868.3, 2403.5, 4293.9999994, 4293.9999996,
		4294, -4294.5, -123.4554046, 45.851032, 1.26623, 1e-7, 999999.9999995}
	for range 200000 {
		switch rng.IntN(3) {
		case 0:
			vals = append(vals, (rng.Float64()-0.5)*400) // RSSI, SNR, lat, lon
		case 1:
			vals = append(vals, float64(rng.Int64N(4_294_000_000))/1e6) // on the grid
		default:
			vals = append(vals, (rng.Float64()-0.5)*10000)
		}
	}
	for _, v := range vals {
		got := string(appendFloat(nil, v))
		r := v
		if math.Abs(v) < 4294 {
			r = math.Round(v*1e6) / 1e6
		}
		want := strconv.FormatFloat(r, 'f', -1, 64)
		if want == "-0" {
			want = "0"
		}
		if got != want {
			t.Fatalf("appendFloat(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestAppendTimeMatchesLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -9*3600-1800), time.FixedZone("y", 14*3600)}
	times := []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range 100000 {
		sec := rng.Int64N(400*365*86400) - 100*365*86400
		times = append(times, time.Unix(sec, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]))
	}
	for _, tm := range times {
		got := string(appendTime(nil, tm))
		if want := tm.UTC().Format(timeLayout); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestAppendIntMatchesStrconv(t *testing.T) {
	for _, v := range []int{0, 1, 9, 10, 99, 100, 999, 1000, 4293, 65535, 1 << 30, -1, -999, -1000} {
		if got, want := string(appendInt(nil, v)), strconv.Itoa(v); got != want {
			t.Errorf("appendInt(%d) = %q", v, got)
		}
		if v >= 0 {
			if got, want := string(appendUint(nil, uint32(v))), strconv.Itoa(v); got != want {
				t.Errorf("appendUint(%d) = %q", v, got)
			}
		}
	}
	if got := string(appendUint(nil, 1<<32-1)); got != "4294967295" {
		t.Errorf("appendUint(max) = %q", got)
	}
}
