package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

func TestStatesSurviveReopenAndCompaction(t *testing.T) {
	ts := openTest(t, Options{})
	ctx := context.Background()
	if err := ts.PutStates(ctx, "sessions", map[string][]byte{"a": []byte("1"), "b": []byte("2")}); err != nil {
		t.Fatal(err)
	}
	ts.mustAppend("q", recs(3, 10, time.Now(), "r")...)
	if err := ts.PutStates(ctx, "sessions", map[string][]byte{"a": []byte("3"), "b": nil}); err != nil {
		t.Fatal(err)
	}
	if err := ts.Compact(); err != nil {
		t.Fatal(err)
	}
	ts.reopen()
	got, err := ts.GetStates("sessions")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got["a"]) != "3" {
		t.Fatalf("states %q", got)
	}
	// The queues do not see the state bucket.
	if st := ts.Stats("q"); st.Count != 3 {
		t.Fatalf("queue stats %+v", st)
	}
	if qs := ts.Queues(); len(qs) != 1 || qs[0] != "q" {
		t.Fatal("state bucket listed as a queue")
	}
	if got, err := ts.GetStates("never"); err != nil || len(got) != 0 {
		t.Fatalf("empty bucket: %v %v", got, err)
	}
}

// State writes share commits with appends: N concurrent writers, far fewer
// commits.
func TestStatesGroupCommit(t *testing.T) {
	set := vm.NewSet()
	ts := openTest(t, Options{Metrics: set, CommitInterval: 50 * time.Millisecond})
	before := set.GetOrCreateCounter("edgeflow_buffer_commits_total").Get()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			k := string(rune('a' + i))
			if err := ts.PutStates(context.Background(), "sessions", map[string][]byte{k: {byte(i)}}); err != nil {
				t.Error(err)
			}
			ts.mustAppend("q", recs(1, 10, time.Now(), k)...)
		})
	}
	wg.Wait()
	commits := set.GetOrCreateCounter("edgeflow_buffer_commits_total").Get() - before
	if got, _ := ts.GetStates("sessions"); len(got) != 20 {
		t.Fatalf("%d states", len(got))
	}
	if commits >= 40 {
		t.Fatalf("%d commits for 40 writes: not grouped", commits)
	}
}

func TestStatesRejectBadNames(t *testing.T) {
	ts := openTest(t, Options{})
	if err := ts.PutStates(context.Background(), "", map[string][]byte{"a": nil}); !errors.Is(err, ErrBadQueue) {
		t.Fatalf("empty bucket: %v", err)
	}
	if err := ts.PutStates(context.Background(), "x", map[string][]byte{"": {1}}); !errors.Is(err, ErrBadQueue) {
		t.Fatalf("empty key: %v", err)
	}
	ts.Close()
	if err := ts.PutStates(context.Background(), "x", map[string][]byte{"a": {1}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}

// UpdateStates writes several buckets in one commit; Clear empties one
// first; GetStateBuckets reads them together.
func TestUpdateStatesSeveralBuckets(t *testing.T) {
	ts := openTest(t, Options{})
	ctx := context.Background()
	if err := ts.UpdateStates(ctx,
		StateWrite{Bucket: "full", KV: map[string][]byte{"a": []byte("a1"), "b": []byte("b1")}},
		StateWrite{Bucket: "delta", KV: map[string][]byte{"a": []byte("a2"), "c": []byte("c2")}},
	); err != nil {
		t.Fatal(err)
	}
	// Fold: delta into full, delta emptied, in one commit.
	if err := ts.UpdateStates(ctx,
		StateWrite{Bucket: "full", KV: map[string][]byte{"a": []byte("a2"), "c": []byte("c2"), "b": nil}},
		StateWrite{Bucket: "delta", Clear: true, KV: map[string][]byte{"d": []byte("d3")}},
	); err != nil {
		t.Fatal(err)
	}
	ts.reopen()
	got, err := ts.GetStateBuckets("full", "delta", "none")
	if err != nil {
		t.Fatal(err)
	}
	if f := got["full"]; len(f) != 2 || string(f["a"]) != "a2" || string(f["c"]) != "c2" {
		t.Fatalf("full %q", f)
	}
	if d := got["delta"]; len(d) != 1 || string(d["d"]) != "d3" {
		t.Fatalf("delta %q", d)
	}
	if n := got["none"]; n == nil || len(n) != 0 {
		t.Fatalf("never written: %v", n)
	}
	// Clear alone deletes the bucket.
	if err := ts.UpdateStates(ctx, StateWrite{Bucket: "delta", Clear: true}); err != nil {
		t.Fatal(err)
	}
	if d, _ := ts.GetStates("delta"); len(d) != 0 {
		t.Fatalf("cleared delta %q", d)
	}
	// A bad bucket anywhere writes nothing.
	if err := ts.UpdateStates(ctx, StateWrite{Bucket: "full", KV: map[string][]byte{"z": {1}}},
		StateWrite{Bucket: ""}); !errors.Is(err, ErrBadQueue) {
		t.Fatalf("bad bucket: %v", err)
	}
	if f, _ := ts.GetStates("full"); f["z"] != nil {
		t.Fatal("half of a refused update written")
	}
}

// A state bucket under a quarter page is inlined in the page that lists the
// buckets, which every commit writes: writing it beside an append costs no
// page, while a bucket of its own costs its leaf (and a branch once it
// grows). This is what the agent's frame-counter deltas rely on.
func TestSmallStateBucketCostsNoPage(t *testing.T) {
	// A long commit interval, so each append and state write share one.
	ts := openTest(t, Options{CommitInterval: 30 * time.Millisecond})
	ctx := context.Background()
	big := map[string][]byte{}
	for i := range 100 {
		big[fmt.Sprintf("%016x", i)] = bytes.Repeat([]byte{byte(i)}, 43)
	}
	if err := ts.PutStates(ctx, "full", big); err != nil {
		t.Fatal(err)
	}
	at := newClock().Now()
	for range 20 { // the queue's tail leaf stops moving around
		ts.mustAppend("q", recs(1, 300, at, "w")...)
	}
	pages := func(state func(i int) error) int64 {
		const n = 20
		w0 := int64(ts.m.written.Get())
		for i := range n {
			var wg sync.WaitGroup
			wg.Go(func() { ts.mustAppend("q", recs(1, 300, at, "w")...) })
			if state != nil {
				if err := state(i); err != nil {
					t.Error(err)
				}
			}
			wg.Wait()
		}
		return (int64(ts.m.written.Get()) - w0) / n / 4096
	}
	alone := pages(nil)
	small := pages(func(i int) error {
		k := fmt.Sprintf("%08x", i%30)
		return ts.PutStates(ctx, "delta", map[string][]byte{k: {1, 0, 0, 0, byte(i)}})
	})
	inBig := pages(func(i int) error {
		return ts.PutStates(ctx, "full", map[string][]byte{fmt.Sprintf("%016x", i*5): bytes.Repeat([]byte{byte(i + 1)}, 43)})
	})
	t.Logf("pages per commit: append alone %d, with a small bucket %d, with a 100-key bucket %d", alone, small, inBig)
	if small > alone {
		t.Errorf("a small state bucket cost %d pages per commit", small-alone)
	}
	if inBig < alone+1 {
		t.Errorf("a large state bucket cost no page: the measure is wrong")
	}
}
