package uplink

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// A device with a wrong key is named, with a hint, counted since its last
// good frame, and logged once per ten minutes of the agent's clock.
func TestRejectionsNamedAndRateLimited(t *testing.T) {
	good := v1Session(t)
	wrong := good
	wrong.NwkSKey = aesKey(t, v5Nwk) // the device signs with another key
	var logs bytes.Buffer
	s := NewSessions()
	if err := s.Set([]Session{wrong}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	var told []Rejected // every refusal, for the live view: not rate-limited
	d := NewDecoder(s, DecoderOptions{Now: clk.Now, OnReject: func(r Rejected) { told = append(told, r) }}, slog.New(slog.NewTextHandler(&logs, nil)), metrics.NewSet())

	for i := range 5 {
		d.Decode([]radio.Frame{frame(buildUp(t, good, uint32(i+1), port(1), []byte{1}, false), 1, -80, 7)})
		clk.Add(3 * time.Minute) // 0, 3, 6, 9, 12 minutes: a WARN at 0 and at 12
	}
	r, ok := d.Rejections()[good.DevEUI]
	if !ok || r.Reason != "mic_failure" || r.Count != 5 || !r.At.Equal(t0.Add(12*time.Minute)) {
		t.Fatalf("rejection = %+v, %v", r, ok)
	}
	if len(told) != 5 || told[4].DevEUI != good.DevEUI || told[4].Reason != "mic_failure" || told[4].FCnt16 != 5 || told[4].RSSI != -80 {
		t.Fatalf("OnReject told %d: %+v", len(told), told)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Fatalf("%d WARN lines, want 2 (one per device per 10 min):\n%s", n, logs.String())
	}
	for _, want := range []string{"dev_eui=70B3D57ED0000001", "dev_addr=49BE7DF1", "reason=mic_failure",
		`hint="check nwkSKey/devAddr (or the OTAA join was not seen)"`, "since_last_good=5", "not_logged_since_last_warning=3"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}

	// The key is fixed: a good frame ends the run; the last rejection stays.
	if err := s.Set([]Session{good}); err != nil {
		t.Fatal(err)
	}
	if ups := d.Decode([]radio.Frame{frame(buildUp(t, good, 9, port(1), []byte{1}, false), 1, -80, 7)}); len(ups) != 1 {
		t.Fatal("good frame not accepted")
	}
	if r := d.Rejections()[good.DevEUI]; r.Count != 0 || r.Reason != "mic_failure" {
		t.Fatalf("after a good frame: %+v", r)
	}
	// Its counter goes back: a replay, with its own hint (logged, since
	// the last WARN was ten minutes ago).
	clk.Add(10 * time.Minute)
	d.Decode([]radio.Frame{frame(buildUp(t, good, 3, port(1), []byte{1}, false), 1, -80, 7)})
	if r := d.Rejections()[good.DevEUI]; r.Count != 1 || r.Reason != "fcnt_replay" || r.FCnt16 != 3 {
		t.Fatalf("after a replay: %+v", r)
	}
	if !strings.Contains(logs.String(), `hint="the device restarted its counter (see relaxFCnt) or a frame was replayed"`) {
		t.Errorf("no replay hint:\n%s", logs.String())
	}
}

// Unknown DevAddrs are remembered with count, last time, best RSSI and its
// gateway, within a bound; the least recently heard goes first.
func TestUnknownAddrsBounded(t *testing.T) {
	f := newFixture(t)
	dev := v1Session(t)
	for i, rssi := range []float64{-100, -70, -90} {
		fr := frame(buildUp(t, dev, uint32(i+1), port(1), []byte{1}, false), byte(i+1), rssi, 5)
		f.d.Decode([]radio.Frame{fr})
		f.clk.Add(time.Minute)
	}
	us := f.d.UnknownAddrs()
	if len(us) != 1 {
		t.Fatalf("unknown = %+v", us)
	}
	u := us[0]
	if HexUpper(u.DevAddr[:]) != "49BE7DF1" || u.Count != 3 || u.BestRSSI != -70 || u.Gateway[7] != 2 || !u.Last.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("unknown = %+v", u)
	}
	for i := range unknownMax + 10 {
		other := dev
		other.DevAddr = lorawan.DevAddr{0x26, 0, byte(i >> 8), byte(i)}
		f.d.Decode([]radio.Frame{frame(buildUp(t, other, 1, port(1), []byte{1}, false), 1, -100, 5)})
		f.clk.Add(time.Second)
	}
	us = f.d.UnknownAddrs()
	if len(us) != unknownMax {
		t.Fatalf("%d remembered, want the bound %d", len(us), unknownMax)
	}
	if HexUpper(us[0].DevAddr[:]) != "260000"+HexUpper([]byte{unknownMax + 9}) {
		t.Fatalf("most recent first: %+v", us[0])
	}
	for _, u := range us {
		if u.DevAddr == dev.DevAddr {
			t.Fatal("the least recently heard address was kept")
		}
	}
	f.clk.Add(25 * time.Hour)
	if us := f.d.UnknownAddrs(); len(us) != 0 {
		t.Fatalf("a day later still %d", len(us))
	}
}
