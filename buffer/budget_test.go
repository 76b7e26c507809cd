package buffer

import (
	"testing"
	"time"
)

func TestBudgetDropsOldest(t *testing.T) {
	s := openTest(t, Options{MaxSize: 1 << 20})
	t0 := time.Unix(10000, 0)
	// 3000 records of 1000 bytes: about 3 MiB into a 1 MiB budget.
	var last []Record
	for i := range 60 {
		last = s.mustAppend("q", recs(50, 1000, t0.Add(time.Duration(i)*time.Second), "r")...)
	}
	dropped := s.m.dropped(reasonFull).Get()
	st := s.Stats("q")
	if dropped == 0 || int(dropped)+st.Count != 3000 {
		t.Fatalf("dropped %d + kept %d != 3000", dropped, st.Count)
	}
	if s.live.Load() > s.dataLimit {
		t.Fatalf("live %d over limit %d", s.live.Load(), s.dataLimit)
	}
	if size := s.fileSize(); size > 1<<20 {
		t.Fatalf("file %d bytes over MaxSize", size)
	}
	// What is left is the newest records, contiguous, ending with the last append.
	got := s.mustPeek("q", 5000)
	if got[len(got)-1].Seq != last[len(last)-1].Seq {
		t.Fatalf("newest record dropped")
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("hole in the kept tail at %d", got[i].Seq)
		}
	}
	t.Logf("1 MiB budget: kept %d records of 1000 B, dropped %d, file %d bytes", st.Count, dropped, s.fileSize())
}

func TestBudgetDropsAcrossQueuesOldestFirst(t *testing.T) {
	s := openTest(t, Options{MaxSize: 1 << 20})
	t0 := time.Unix(10000, 0)
	// "dead" holds an old backlog, then "live" keeps receiving newer records.
	s.mustAppend("dead", recs(500, 1000, t0, "d")...)
	rs := s.mustAppend("dead", recs(1, 1000, t0, "d")...)
	if err := s.DeadLetter("dead", rs[0].Seq, "http 400"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		s.mustAppend("live", recs(50, 1000, t0.Add(time.Hour+time.Duration(i)*time.Second), "l")...)
	}
	if d, l := s.Stats("dead"), s.Stats("live"); l.Count != 500 || d.Count >= 500 || d.DeadLetters != 0 {
		t.Fatalf("dead %+v live %+v: the old backlog and the dead letter should go first", d, l)
	}
}

func TestBudgetBackstopAtMaxSize(t *testing.T) {
	// Force bbolt's own MaxSize to trip by lying about the live size:
	// the store must drop and retry, never fail the append.
	s := openTest(t, Options{MaxSize: 1 << 20})
	s.dataLimit = 1 << 40
	t0 := time.Unix(0, 0)
	for i := range 60 {
		s.mustAppend("q", recs(50, 1000, t0.Add(time.Duration(i)*time.Second), "r")...)
	}
	if s.m.dropped(reasonFull).Get() == 0 {
		t.Fatal("nothing dropped")
	}
	if size := s.fileSize(); size > 1<<20 {
		t.Fatalf("file %d bytes", size)
	}
}
