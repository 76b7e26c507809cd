package history

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func TestUplinksPerMinute(t *testing.T) {
	h := New(Options{Span: time.Hour})
	// Two uplinks a minute for an hour from device A through gateway G1,
	// one every other minute from B through G1 and G2.
	for m := 0; m < 60; m++ {
		now := t0.Add(time.Duration(m)*time.Minute + 10*time.Second)
		h.Uplinks(now, []Uplink{{Device: "A", Gateways: []string{"G1"}, RSSI: -80, SNR: 7}})
		h.Uplinks(now.Add(20*time.Second), []Uplink{{Device: "A", Gateways: []string{"G1"}, RSSI: -81, SNR: 6}})
		if m%2 == 0 {
			h.Uplinks(now, []Uplink{{Device: "B", Gateways: []string{"G1", "G2"}, RSSI: -110.5, SNR: -7.25}})
		}
	}
	now := t0.Add(59*time.Minute + 50*time.Second)
	s := h.Snapshot(now, 0)
	if !s.Start.Equal(t0) || s.Step != time.Minute || len(s.Devices) != 2 || len(s.Gateways) != 2 {
		t.Fatalf("snapshot %v %v %d %d", s.Start, s.Step, len(s.Devices), len(s.Gateways))
	}
	a, b := s.Devices[0], s.Devices[1]
	if a.ID != "A" || len(a.Values) != 60 || b.ID != "B" {
		t.Fatalf("devices %+v", s.Devices)
	}
	for i := range 60 {
		wantB := int64(0)
		if i%2 == 0 {
			wantB = 1
		}
		if a.Values[i] != 2 || b.Values[i] != wantB || s.Gateways[0].Values[i] != 2+wantB || s.Gateways[1].Values[i] != wantB {
			t.Fatalf("minute %d: A %d B %d G1 %d G2 %d", i, a.Values[i], b.Values[i], s.Gateways[0].Values[i], s.Gateways[1].Values[i])
		}
	}
	// 120 points, all kept (default 240), oldest first, with their values.
	if len(a.Signal) != 120 || a.Signal[0].RSSI != -80 || a.Signal[1].SNR != 6 || !a.Signal[0].Time.Before(a.Signal[119].Time) {
		t.Fatalf("signal %d %+v", len(a.Signal), a.Signal[:2])
	}
	if b.Signal[0].RSSI != -110.5 || b.Signal[0].SNR != -7.25 {
		t.Fatalf("signal %+v", b.Signal[0])
	}

	// Half an hour later the first half has left the window; the rest
	// moved, and the minutes since are zeros.
	later := now.Add(30 * time.Minute)
	s = h.Snapshot(later, 0)
	a = s.Devices[0]
	for i, v := range a.Values {
		want := int64(2)
		if i >= 30 {
			want = 0
		}
		if v != want {
			t.Fatalf("after 30 min, minute %d = %d, want %d", i, v, want)
		}
	}
	if len(a.Signal) != 60 {
		t.Fatalf("%d points within the span", len(a.Signal))
	}
	// A window of 10 steps.
	if s = h.Snapshot(now, 10); len(s.Devices[0].Values) != 10 || !s.Start.Equal(t0.Add(50*time.Minute)) {
		t.Fatalf("10 steps: %d from %v", len(s.Devices[0].Values), s.Start)
	}
	// Two spans later everything is gone.
	if s = h.Snapshot(now.Add(2*time.Hour), 0); len(s.Devices)+len(s.Gateways) != 0 {
		t.Fatalf("old series kept: %+v", s)
	}
}

// A write after a long silence clears the ring: no value from a previous
// lap shows up.
func TestRingWrap(t *testing.T) {
	h := New(Options{Span: 10 * time.Minute})
	h.Uplinks(t0, []Uplink{{Device: "A"}})
	h.Uplinks(t0.Add(13*time.Minute), []Uplink{{Device: "A"}})
	s := h.Snapshot(t0.Add(13*time.Minute), 0)
	for i, v := range s.Devices[0].Values {
		if want := int64(map[bool]int{true: 1}[i == 9]); v != want {
			t.Fatalf("step %d = %d, want %d", i, v, want)
		}
	}
}

func TestBacklog(t *testing.T) {
	h := New(Options{Span: 10 * time.Minute})
	h.Backlog(t0, "c1", 5)
	h.Backlog(t0.Add(20*time.Second), "c1", 9)
	h.Backlog(t0.Add(40*time.Second), "c1", 3)
	h.Backlog(t0.Add(2*time.Minute), "c1", 0)
	s := h.Snapshot(t0.Add(3*time.Minute), 4)
	want := []int64{9, -1, 0, -1}
	for i, v := range s.Connections[0].Values {
		if v != want[i] {
			t.Fatalf("backlog %v, want %v", s.Connections[0].Values, want)
		}
	}
}

// At most MaxSeries series: the least recently heard goes.
func TestBounded(t *testing.T) {
	h := New(Options{MaxSeries: 3, MaxPoints: 2})
	for i, id := range []string{"A", "B", "C", "A", "D"} {
		h.Uplinks(t0.Add(time.Duration(i)*time.Second), []Uplink{{Device: id}})
	}
	s := h.Snapshot(t0.Add(time.Minute), 0)
	var ids []string
	for _, d := range s.Devices {
		ids = append(ids, d.ID)
	}
	if len(ids) != 3 || ids[0] != "A" || ids[1] != "C" || ids[2] != "D" {
		t.Fatalf("kept %v, want [A C D]", ids)
	}
	if len(s.Devices[0].Signal) != 2 {
		t.Fatalf("%d points, want 2", len(s.Devices[0].Signal))
	}
}

func BenchmarkUplinks(b *testing.B) {
	h := New(Options{})
	ups := []Uplink{{Device: "70B3D57ED0000001", Gateways: []string{"AA555A0000000101"}, RSSI: -80, SNR: 7}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Uplinks(t0.Add(time.Duration(i)*time.Millisecond), ups)
	}
}

// BenchmarkSnapshotFull: the largest history (256 devices with every point,
// 6 h of minutes) copied for GET /history; it reports the heap it holds.
func BenchmarkSnapshotFull(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := New(Options{})
	for m := range 360 {
		now := t0.Add(time.Duration(m) * time.Minute)
		for d := range 256 {
			h.Uplinks(now, []Uplink{{Device: fmt.Sprintf("70B3D57ED000%04X", d), Gateways: []string{"AA555A0000000101"}, RSSI: -80, SNR: 7}})
		}
		h.Backlog(now, "cayenne", m)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportAllocs()
	for b.Loop() {
		h.Snapshot(t0.Add(360*time.Minute), 0)
	}
	runtime.KeepAlive(h)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1024, "KiB-held")
}
