package delivery

import (
	"context"
	"edgeflow/internal/testkit"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// slowAppend is a buffer whose appends take a while, as a flash commit
// does, so that a spill is still on its way while newer uplinks arrive.
type slowAppend struct {
	*buffer.Store
	delay time.Duration
}

func (s slowAppend) Append(ctx context.Context, queue string, recs []buffer.Record) error {
	time.Sleep(s.delay)
	return s.Store.Append(ctx, queue, recs)
}

// While a spill is on its way to flash, the lane must not send the newer
// uplinks behind it from memory: that broke the order, and the ack of the
// uplink in flight (given a seq by a later spill) marked every older record
// on flash as delivered, so the lane skipped them and stalled with a
// backlog (a 40,000-uplink load stopped after 69).
func TestSpillInTransitKeepsOrder(t *testing.T) {
	s := newSink(t)
	// A slow endpoint (2 ms an answer), so that the lane is busy sending
	// while spills land.
	s.setAnswer(func(map[string]any) int { time.Sleep(2 * time.Millisecond); return 200 })
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 1}, nil) // one in flight: the test checks the lane's order
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(slowAppend{st, 30 * time.Millisecond}, Options{MaxMemory: 8, SpillAfter: time.Hour}, nil, nil)
	m.Start(context.Background(), []Connection{{ID: "1", Name: "test", Connector: h}})
	const n = 1500
	for i := uint32(1); i <= n; i++ {
		if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(i)}); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			time.Sleep(15 * time.Millisecond) // arrivals keep coming while spills land
		}
	}
	got := s.waitFor(t, n)
	for i, d := range got {
		if int(d["FCntUp"].(float64)) != i+1 {
			t.Fatalf("uplink %d has FCnt %v: out of order", i+1, d["FCntUp"])
		}
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// A burst above MaxMemory while the endpoint keeps answering (slowly)
// sends only the oldest excess through flash: the newest MaxMemory wait in
// memory. Spilling the whole queue wrote every uplink of the burst to
// flash and read it back.
func TestSpillAboveMaxMemoryTakesOnlyTheExcess(t *testing.T) {
	s := newSink(t)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // before the sink closes: its handlers wait on release
	s.setAnswer(func(map[string]any) int { <-release; return 200 })
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 1}, nil) // one in flight: the test checks the lane's order
	if err != nil {
		t.Fatal(err)
	}
	const max, n = 100, 300
	m := NewManager(st, Options{MaxMemory: max, SpillAfter: time.Hour, MergeWindow: 0}, nil, nil)
	m.Start(context.Background(), []Connection{{ID: "1", Name: "test", Connector: h}})
	for i := uint32(1); i <= n; i++ {
		if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(i)}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitUntil(t, "the spill", func() bool { return st.Stats("1").Count > 0 })
	// The spill took the oldest beyond max (and the batch in flight):
	// at most n-max+pipeline, never the whole queue.
	if c := st.Stats("1").Count; c == 0 || c > n-max+16 {
		t.Fatalf("%d uplinks on flash after the spill, want 1..%d", c, n-max+16)
	}
	open()
	got := s.waitFor(t, n)
	for i, d := range got {
		if int(d["FCntUp"].(float64)) != i+1 {
			t.Fatalf("uplink %d has FCnt %v: out of order", i+1, d["FCntUp"])
		}
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
}
