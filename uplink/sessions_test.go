package uplink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"edgeflow/radio"
)

func TestSessionMasksKeys(t *testing.T) {
	s := v1Session(t)
	var b bytes.Buffer
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&b, format+"\n", s)
		fmt.Fprintf(&b, format+"\n", &s)
		fmt.Fprintf(&b, format+"\n", []Session{s})
	}
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "session", s, "sessions", []Session{s}, "ptr", &s)
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "session", s, "sessions", []Session{s}, "ptr", &s)
	j, err := json.Marshal(map[string]any{"s": s, "l": []Session{s}})
	if err != nil {
		t.Fatal(err)
	}
	b.Write(j)
	out := strings.ToLower(b.String())
	for _, k := range []string{v1Nwk, v1App} {
		if strings.Contains(out, k) {
			t.Fatalf("key %s printed:\n%s", k, out)
		}
	}
	if !strings.Contains(out, "49be7df1") || !strings.Contains(out, maskedKey) {
		t.Fatalf("session not described:\n%s", out)
	}
}

func TestSessionsSnapshot(t *testing.T) {
	a, b := v1Session(t), v1Session(t)
	b.DevEUI = eui(0)
	f := newFixture(t, a, b)
	fr := frame(unhex(t, v1Hex), 1, -97, -3.5)
	f.d.Decode([]radio.Frame{fr})
	st := f.s.Snapshot()
	if len(st) != 2 || st[0].DevEUI != eui(0) || st[1].DevEUI != eui(1) {
		t.Fatalf("snapshot %+v", st)
	}
	// V1 verifies with both (same keys): the first session in the table wins.
	got := st[1]
	if st[0].HasFCnt {
		got = st[0]
	}
	if !got.HasFCnt || got.FCnt != 2 || got.Uplinks != 1 || got.RSSI != -97 || got.SNR != -3.5 || !got.LastUplink.Equal(t0) {
		t.Fatalf("state %+v", got)
	}
	if f.s.RestoreFCnt(eui(9), 1) {
		t.Fatal("RestoreFCnt of an unknown device")
	}
}

// TestSessionsConcurrent runs decoding, reloads and snapshots at once; it
// is meant for -race.
func TestSessionsConcurrent(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	frames := make([][]byte, 200)
	for i := range frames {
		frames[i] = buildUp(t, s, uint32(i), port(1), []byte("c"), false)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, phy := range frames {
			f.d.Decode([]radio.Frame{frame(phy, 1, -80, 7)})
		}
	})
	wg.Go(func() {
		d2 := NewDecoder(f.s, DecoderOptions{}, nil, nil)
		for _, phy := range frames {
			d2.Decode([]radio.Frame{frame(phy, 2, -80, 7)})
		}
	})
	wg.Go(func() {
		for range 50 {
			if err := f.s.Set([]Session{s}); err != nil {
				t.Error(err)
			}
			f.s.Snapshot()
		}
	})
	wg.Wait()
	if st := f.s.Snapshot(); st[0].FCnt != 199 {
		t.Fatalf("last FCnt %d", st[0].FCnt)
	}
}
