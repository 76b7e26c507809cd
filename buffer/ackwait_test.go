package buffer

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// A lane at 10 uplinks/s with persist "always": an append every 100 ms,
// and about once a second an ack of what was delivered, between two
// appends. With AckWait the ack waits for the next append and shares its
// commit; without, it is a commit (and ~4 pages) of its own.
//
// The store runs in a synctest bubble: its writer's timers and time.Now
// are the bubble's, so the pace is exact however busy the machine, and
// the commits counted are the code's, not the scheduler's.
func TestAckRidesNextAppend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ackWait time.Duration
		extra   bool // the acks cost commits of their own
	}{{"default", 0, false}, {"off", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				set := vm.NewSet()
				ts := openTest(t, Options{Metrics: set, AckWait: tc.ackWait})
				commits := set.GetOrCreateCounter("edgeflow_buffer_commits_total")
				const period = 40 * time.Millisecond
				var (
					wg    sync.WaitGroup
					acks  int
					ackMu sync.Mutex
					lat   []time.Duration
				)
				c0 := commits.Get()
				const n = 30
				for i := range n {
					start := time.Now()
					r := ts.mustAppend("q", recs(1, 100, time.Now(), "a")...)
					if i >= 3 && i%4 == 0 { // the lane's background ack, between appends
						wg.Go(func() {
							time.Sleep(period / 4)
							t0 := time.Now()
							if err := ts.Ack("q", []uint64{r[0].Seq}); err != nil {
								t.Error(err)
							}
							ackMu.Lock()
							acks++
							lat = append(lat, time.Since(t0))
							ackMu.Unlock()
						})
					}
					time.Sleep(period - time.Since(start))
				}
				wg.Wait()
				got := int(commits.Get() - c0)
				t.Logf("%d appends, %d acks: %d commits; ack latencies %v", n, acks, got, lat)
				if tc.extra && got < n+acks-1 {
					t.Errorf("acks did not commit alone: %d commits", got)
				}
				if !tc.extra && got > n+1 {
					t.Errorf("%d commits for %d appends: acks did not ride them", got, n)
				}
				if st := ts.Stats("q"); st.Count != n-acks {
					t.Errorf("%d records left, want %d", st.Count, n-acks)
				}
			})
		})
	}
}

// Acks wait only for appends that come regularly: after a pause, or with
// appends too far apart, an ack commits at once; Close does not wait.
// In a synctest bubble the durations measured are the store's own waits:
// file I/O takes no time there, so a loaded machine changes nothing.
func TestAckWaitsOnlyForRegularAppends(t *testing.T) {
	synctest.Test(t, testAckWaitsOnlyForRegularAppends)
}

func testAckWaitsOnlyForRegularAppends(t *testing.T) {
	ts := openTest(t, Options{})
	ackTime := func(seq uint64) time.Duration {
		t0 := time.Now()
		if err := ts.Ack("q", []uint64{seq}); err != nil {
			t.Fatal(err)
		}
		return time.Since(t0)
	}
	r := ts.mustAppend("q", recs(4, 100, time.Now(), "a")...)
	// "At once" is the commit interval every write waits for company.
	if d := ackTime(r[0].Seq); d > DefaultCommitInterval {
		t.Errorf("ack after a single append took %v", d)
	}
	// Appends every 1.5 s are beyond AckWait: no waiting.
	ts.mustAppend("q", recs(1, 100, time.Now(), "b")...)
	time.Sleep(1500 * time.Millisecond)
	ts.mustAppend("q", recs(1, 100, time.Now(), "b")...)
	if d := ackTime(r[1].Seq); d > DefaultCommitInterval {
		t.Errorf("ack with appends 1.5 s apart took %v", d)
	}
	// Regular appends, then they stop: the ack waits at most for the one
	// that was due: the gap between commits (each append's commit waits
	// the commit interval), a quarter more for jitter and the commit
	// interval, less the 50 ms since the last commit.
	for range 5 {
		ts.mustAppend("q", recs(1, 100, time.Now(), "c")...)
		time.Sleep(50 * time.Millisecond)
	}
	gap := 50*time.Millisecond + DefaultCommitInterval
	if d, due := ackTime(r[2].Seq), gap+gap/4+DefaultCommitInterval-50*time.Millisecond; d > due {
		t.Errorf("ack after appends stopped took %v, more than the %v until the append that was due", d, due)
	}
	// Close commits a waiting ack at once.
	for range 5 {
		ts.mustAppend("q", recs(1, 100, time.Now(), "d")...)
		time.Sleep(200 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- ts.Ack("q", []uint64{r[3].Seq}) }()
	synctest.Wait() // the ack is with the writer, waiting for company
	t0 := time.Now()
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ack waiting at Close: %v", err)
	}
	if d := time.Since(t0); d != 0 {
		t.Errorf("Close took %v with an ack waiting", d)
	}
	ts.reopen()
	if st := ts.Stats("q"); st.Count != 4+2+5+5-4 {
		t.Errorf("%d records after reopen", st.Count)
	}
}
