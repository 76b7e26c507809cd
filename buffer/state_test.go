package buffer

import (
	"context"
	"errors"
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
