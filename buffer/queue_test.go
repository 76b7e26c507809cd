package buffer

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestFIFOAcrossReopen(t *testing.T) {
	clk := newClock()
	s := openTest(t, Options{Now: clk.Now})
	t0 := clk.Now()
	a := s.mustAppend("cayenne", recs(3, 10, t0, "a")...)
	s.mustAppend("other", recs(2, 10, t0, "o")...)
	b := s.mustAppend("cayenne", recs(2, 10, t0.Add(time.Second), "b")...)
	for i := 1; i < len(a); i++ {
		if a[i].Seq <= a[i-1].Seq {
			t.Fatalf("seqs not rising: %v", seqsOf(a))
		}
	}
	s.reopen()
	got := s.mustPeek("cayenne", 100)
	want := append(append([]Record(nil), a...), b...)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || string(got[i].Data) != string(want[i].Data) || !got[i].Time.Equal(want[i].Time) {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if st := s.Stats("cayenne"); st.Count != 5 || st.Bytes != 50 || !st.Oldest.Equal(t0) {
		t.Fatalf("stats after reopen: %+v", st)
	}
	if q := s.Queues(); len(q) != 2 || q[0] != "cayenne" || q[1] != "other" {
		t.Fatalf("queues: %v", q)
	}
	if got := s.mustPeek("cayenne", 2); len(got) != 2 || got[0].Seq != a[0].Seq {
		t.Fatalf("peek max 2: %v", seqsOf(got))
	}
}

func TestConcurrentAppendsCoalesced(t *testing.T) {
	s := openTest(t, Options{CommitInterval: 20 * time.Millisecond})
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := []Record{{Time: time.Unix(int64(w*1000+i), 0), Data: []byte{byte(w), byte(i)}}}
				if err := s.Append(context.Background(), "q", r); err != nil {
					t.Error(err)
					return
				}
				if r[0].Seq == 0 {
					t.Error("seq not set")
				}
			}
		}()
	}
	wg.Wait()
	commits := s.m.commits.Get()
	if commits >= writers*each {
		t.Fatalf("%d commits for %d appends: not coalesced", commits, writers*each)
	}
	if st := s.Stats("q"); st.Count != writers*each {
		t.Fatalf("count %d", st.Count)
	}
	// Per writer, the order of its own appends is kept.
	last := map[byte]byte{}
	for _, r := range s.mustPeek("q", writers*each) {
		if prev, ok := last[r.Data[0]]; ok && r.Data[1] != prev+1 {
			t.Fatalf("writer %d: %d after %d", r.Data[0], r.Data[1], prev)
		}
		last[r.Data[0]] = r.Data[1]
	}
	t.Logf("%d appends from %d goroutines in %d commits", writers*each, writers, commits)
}

func TestAckThenReopen(t *testing.T) {
	s := openTest(t, Options{})
	rs := s.mustAppend("q", recs(10, 20, time.Unix(1000, 0), "r")...)
	if err := s.Ack("q", []uint64{rs[0].Seq, rs[1].Seq, rs[5].Seq, 999999}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack("q", []uint64{rs[0].Seq}); err != nil { // again: harmless
		t.Fatal(err)
	}
	if err := s.AckThrough("q", rs[3].Seq); err != nil {
		t.Fatal(err)
	}
	s.reopen()
	got := seqsOf(s.mustPeek("q", 100))
	want := []uint64{rs[4].Seq, rs[6].Seq, rs[7].Seq, rs[8].Seq, rs[9].Seq}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	st := s.Stats("q")
	if st.Count != 5 || st.Bytes != 100 || !st.Oldest.Equal(rs[4].Time) {
		t.Fatalf("stats %+v", st)
	}
	if n := s.m.acked.Get(); n != 0 { // counters are per process: reopened
		t.Fatalf("acked counter after reopen %d", n)
	}
}

func TestExpire(t *testing.T) {
	s := openTest(t, Options{})
	t0 := time.Unix(5000, 0)
	rs := s.mustAppend("q", recs(10, 5, t0, "r")...) // times t0 .. t0+9ms
	n, err := s.Expire("q", t0.Add(4*time.Millisecond))
	if err != nil || n != 4 {
		t.Fatalf("Expire = %d, %v; want 4", n, err)
	}
	got := s.mustPeek("q", 100)
	if len(got) != 6 || got[0].Seq != rs[4].Seq {
		t.Fatalf("after expire: %v", seqsOf(got))
	}
	if c := s.m.dropped(reasonExpired).Get(); c != 4 {
		t.Fatalf("expired counter %d", c)
	}
	if n, err := s.Expire("missing", t0.Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("expire of a missing queue: %d %v", n, err)
	}
	if st := s.Stats("q"); !st.Oldest.Equal(rs[4].Time) {
		t.Fatalf("oldest %v", st.Oldest)
	}
}

func TestDeadLetters(t *testing.T) {
	clk := newClock()
	s := openTest(t, Options{Now: clk.Now})
	rs := s.mustAppend("q", recs(5, 8, time.Unix(100, 0), "r")...)
	if err := s.DeadLetter("q", rs[1].Seq, "http 400: bad body"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.DeadLetter("q", rs[3].Seq, "http 404"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeadLetter("q", rs[1].Seq, "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dead-lettering a missing record: %v", err)
	}
	if st := s.Stats("q"); st.Count != 3 || st.DeadLetters != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.reopen()
	dls, err := s.DeadLetters("q")
	if err != nil || len(dls) != 2 {
		t.Fatalf("DeadLetters = %v, %v", dls, err)
	}
	if dls[0].Seq != rs[1].Seq || dls[0].Reason != "http 400: bad body" || string(dls[0].Data) != string(rs[1].Data) ||
		!dls[0].Time.Equal(rs[1].Time) || !dls[1].At.Equal(clk.Now()) {
		t.Fatalf("dead letter %+v", dls)
	}
	if st := s.Stats("q"); st.DeadLetters != 2 {
		t.Fatalf("stats after reopen %+v", st)
	}
	n, err := s.Replay("q", []uint64{rs[1].Seq})
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	got := s.mustPeek("q", 10)
	if len(got) != 4 || string(got[3].Data) != string(rs[1].Data) || got[3].Seq <= rs[4].Seq || !got[3].Time.Equal(rs[1].Time) {
		t.Fatalf("replayed record not at the tail with a new seq: %+v", got)
	}
	n, err = s.DropDeadLetters("q", nil)
	if err != nil || n != 1 {
		t.Fatalf("DropDeadLetters = %d, %v", n, err)
	}
	if dls, _ := s.DeadLetters("q"); len(dls) != 0 {
		t.Fatalf("left: %v", dls)
	}
	if st := s.Stats("q"); st.DeadLetters != 0 || st.Count != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDeleteQueueKeepsSeqsRising(t *testing.T) {
	s := openTest(t, Options{})
	rs := s.mustAppend("gone", recs(3, 8, time.Unix(1, 0), "g")...)
	if err := s.DeadLetter("gone", rs[0].Seq, "x"); err != nil {
		t.Fatal(err)
	}
	s.mustAppend("kept", recs(1, 8, time.Unix(1, 0), "k")...)
	if err := s.DeleteQueue("gone"); err != nil {
		t.Fatal(err)
	}
	if q := s.Queues(); len(q) != 1 || q[0] != "kept" {
		t.Fatalf("queues %v", q)
	}
	if s.live.Load() != s.queues["kept"].stored {
		t.Fatalf("live bytes %d, kept stores %d", s.live.Load(), s.queues["kept"].stored)
	}
	again := s.mustAppend("gone", recs(1, 8, time.Unix(2, 0), "n")...)
	if again[0].Seq <= rs[2].Seq {
		t.Fatalf("seq %d reused after delete (old up to %d)", again[0].Seq, rs[2].Seq)
	}
	// A late ack of an old seq must not touch the new queue.
	if err := s.Ack("gone", seqsOf(rs)); err != nil {
		t.Fatal(err)
	}
	s.reopen()
	if st := s.Stats("gone"); st.Count != 1 || st.DeadLetters != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBadInput(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.Append(context.Background(), "", recs(1, 1, time.Time{}, "x")); !errors.Is(err, ErrBadQueue) {
		t.Fatalf("empty queue name: %v", err)
	}
	big := []Record{{Data: make([]byte, MaxRecordSize+1)}}
	if err := s.Append(context.Background(), "q", big); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("big record: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Append(ctx, "q", recs(1, 1, time.Time{}, "x")) // either outcome is fine; must not hang
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), "q", recs(1, 1, time.Time{}, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := s.Peek("q", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("peek after close: %v", err)
	}
}

func TestFlippedBitGoesToDeadLetters(t *testing.T) {
	s := openTest(t, Options{})
	rs := s.mustAppend("q", recs(3, 40, time.Unix(1, 0), "crc")...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip one bit in the middle record's data, as worn flash might.
	raw := fileBytes(t, s.path)
	i := bytes.Index(raw, []byte("crc-1-"))
	if i < 0 {
		t.Fatal("record not found in file")
	}
	overwrite(t, s.path, int64(i+3), []byte{raw[i+3] ^ 0x01})
	if err := CheckFile(s.path); err != nil {
		t.Fatalf("one bad record must not condemn the file: %v", err)
	}
	s.reopen()
	got := s.mustPeek("q", 10)
	if len(got) != 2 || got[0].Seq != rs[0].Seq || got[1].Seq != rs[2].Seq {
		t.Fatalf("peek: %v", seqsOf(got))
	}
	dls, err := s.DeadLetters("q")
	if err != nil || len(dls) != 1 || dls[0].Seq != rs[1].Seq || dls[0].Reason != reasonChecksum {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
	if s.m.corrupt.Get() != 1 {
		t.Fatalf("corrupt counter %d", s.m.corrupt.Get())
	}
}
