package buffer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// One Commit: appends to two queues and state writes, one transaction, seqs
// in the order the appends were added.
func TestCommitSeveralQueuesAndStates(t *testing.T) {
	ts := openTest(t, Options{})
	ctx := context.Background()
	if err := ts.PutStates(ctx, "marks", map[string][]byte{"old": []byte("x"), "gone": []byte("y")}); err != nil {
		t.Fatal(err)
	}
	before := ts.m.commits.Get()
	a := recs(3, 20, time.Unix(10, 0), "a")
	bq := recs(2, 20, time.Unix(10, 0), "b")
	var b Batch
	b.Append("qa", a)
	b.States(StateWrite{Bucket: "marks", KV: map[string][]byte{"new": []byte("1"), "gone": nil}})
	b.Append("qb", bq)
	if b.Empty() {
		t.Fatal("batch with writes is empty")
	}
	if err := ts.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if n := ts.m.commits.Get() - before; n != 1 {
		t.Fatalf("%d commits, want 1", n)
	}
	seqs := append(seqsOf(a), seqsOf(bq)...)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("seqs %v: not the order of the batch", seqs)
		}
	}
	if got := seqsOf(ts.mustPeek("qa", 10)); len(got) != 3 || got[0] != a[0].Seq {
		t.Fatalf("qa holds %v, want %v", got, seqsOf(a))
	}
	if got := seqsOf(ts.mustPeek("qb", 10)); len(got) != 2 || got[0] != bq[0].Seq {
		t.Fatalf("qb holds %v, want %v", got, seqsOf(bq))
	}
	st, err := ts.GetStates("marks")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || string(st["old"]) != "x" || string(st["new"]) != "1" {
		t.Fatalf("states %q", st)
	}
	if s := ts.Stats("qa"); s.Count != 3 {
		t.Fatalf("qa stats %+v", s)
	}
}

// A batch with one bad part writes nothing, not even the good parts added
// before it.
func TestCommitInvalidPartWritesNothing(t *testing.T) {
	ts := openTest(t, Options{})
	for name, bad := range map[string]func(b *Batch){
		"queue name":  func(b *Batch) { b.Append("", recs(1, 10, time.Unix(1, 0), "x")) },
		"record size": func(b *Batch) { b.Append("q", []Record{{Data: make([]byte, MaxRecordSize+1)}}) },
		"state name": func(b *Batch) {
			b.States(StateWrite{Bucket: strings.Repeat("s", MaxStateName+1), KV: map[string][]byte{"k": {1}}})
		},
	} {
		var b Batch
		b.Append("q", recs(2, 10, time.Unix(1, 0), "ok"))
		b.States(StateWrite{Bucket: "marks", KV: map[string][]byte{"k": {1}}})
		bad(&b)
		b.Append("q", recs(2, 10, time.Unix(1, 0), "after"))
		err := ts.Commit(context.Background(), &b)
		if !errors.Is(err, ErrBadQueue) && !errors.Is(err, ErrRecordTooLarge) {
			t.Fatalf("%s: Commit = %v", name, err)
		}
		if qs := ts.Queues(); len(qs) != 0 {
			t.Fatalf("%s: queues %v after a failed batch", name, qs)
		}
		if st, _ := ts.GetStates("marks"); len(st) != 0 {
			t.Fatalf("%s: states %q after a failed batch", name, st)
		}
	}
}

// An empty batch (nil, or only empty parts) costs no commit.
func TestCommitEmptyBatch(t *testing.T) {
	ts := openTest(t, Options{})
	before := ts.m.commits.Get()
	var b Batch
	b.Append("q", nil)
	b.States(StateWrite{Bucket: "marks"})
	if !b.Empty() || !(*Batch)(nil).Empty() {
		t.Fatal("batch without writes is not empty")
	}
	if err := ts.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if err := ts.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if n := ts.m.commits.Get() - before; n != 0 {
		t.Fatalf("%d commits for empty batches", n)
	}
}

// A batch committed with a cancelled context before the writer takes it
// writes nothing.
func TestCommitCancelledWritesNothing(t *testing.T) {
	ts := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b Batch
	b.Append("q", recs(1, 10, time.Unix(1, 0), "x"))
	b.States(StateWrite{Bucket: "marks", KV: map[string][]byte{"k": {1}}})
	// The writer may take it before noticing ctx; then it commits all.
	err := ts.Commit(ctx, &b)
	n := len(ts.Queues())
	st, _ := ts.GetStates("marks")
	switch {
	case err == nil && (n != 1 || len(st) != 1):
		t.Fatalf("committed, but queues %d, states %d", n, len(st))
	case err != nil && (n != 0 || len(st) != 0):
		t.Fatalf("Commit = %v, but queues %d, states %d", err, n, len(st))
	}
}

// A Commit's batch is whole: the writer commits it at once instead of
// waiting CommitInterval for company, and takes along what is pending, here
// an Append that waits for company. In a synctest bubble, so the times are
// the code's.
func TestCommitDoesNotWaitForCompany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set := vm.NewSet()
		ts := openTest(t, Options{Metrics: set, CommitInterval: time.Hour})
		commits := set.GetOrCreateCounter("edgeflow_buffer_commits_total")
		start := time.Now()
		done := make(chan error)
		go func() { done <- ts.Append(context.Background(), "spill", recs(1, 10, time.Unix(1, 0), "s")) }()
		synctest.Wait() // the Append waits in the writer for company
		var b Batch
		b.Append("q", recs(2, 10, time.Unix(1, 0), "b"))
		b.States(StateWrite{Bucket: "marks", KV: map[string][]byte{"k": {1}}})
		if err := ts.Commit(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Commit took %v: it waited for company", d)
		}
		if n := commits.Get(); n != 1 {
			t.Fatalf("%d commits, want 1: the pending Append shares the batch's", n)
		}
		// A lone Append still waits for company.
		start = time.Now()
		ts.mustAppend("spill", recs(1, 10, time.Unix(1, 0), "s")...)
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("a lone Append committed after %v, want CommitInterval", d)
		}
	})
}
