package buffer

import (
	"testing"
	"time"
)

// TestSpaceAfterLongOutage fills 200k records (a long outage), drains them,
// fills and drains again, then lets compaction run: freed pages must be
// reused by the second fill, and compaction must give the space back.
func TestSpaceAfterLongOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("200k records")
	}
	clk := newClock()
	s := openTest(t, Options{MaxSize: 128 << 20, Now: clk.Now, CommitInterval: time.Millisecond})
	const total, batch, size = 200_000, 500, 200
	fill := func() {
		for i := 0; i < total; i += batch {
			s.mustAppend("q", recs(batch, size, clk.Now(), "r")...)
		}
	}
	drain := func() {
		for {
			head := s.mustPeek("q", batch)
			if len(head) == 0 {
				return
			}
			if err := s.AckThrough("q", head[len(head)-1].Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill()
	full := s.fileSize()
	if d := s.m.dropped(reasonFull).Get(); d != 0 {
		t.Fatalf("%d dropped: budget too small for the test", d)
	}
	drain()
	drained := s.fileSize()
	fill()
	refilled := s.fileSize()
	drain()
	if s.m.compactions.Get() != 0 {
		t.Fatal("compacted before the minimum period")
	}
	clk.Advance(2 * compactMinPeriod)
	s.mustAppend("q", recs(1, size, clk.Now(), "last")...) // a commit runs the size check
	// Compaction runs after the commit it follows has been answered; the
	// next request is served only once it is done.
	if err := s.Ack("q", []uint64{0}); err != nil {
		t.Fatal(err)
	}
	compacted := s.fileSize()
	t.Logf("200k x %d B: full %d B, drained %d B, refilled %d B, compacted %d B",
		size, full, drained, refilled, compacted)
	if refilled > full+full/10 {
		t.Fatalf("second fill grew the file from %d to %d: free pages not reused", full, refilled)
	}
	if s.m.compactions.Get() != 1 || compacted > compactMinFile {
		t.Fatalf("not compacted: %d bytes, %d compactions", compacted, s.m.compactions.Get())
	}
	s.reopen()
	if st := s.Stats("q"); st.Count != 1 {
		t.Fatalf("after compaction and reopen: %+v", st)
	}
}
