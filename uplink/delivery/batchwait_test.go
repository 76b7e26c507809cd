package delivery

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// BatchWait lets the first uplink of a batch wait for the ones arriving
// behind it: at 10/s with 400 ms, three to five leave together, none
// later than its window and BatchWait but the last ones (the fallback
// after arrivals stop, maxCarry, as without BatchWait); at a pace slower
// than BatchWait nobody waits for company, and with BatchWait 0 they
// leave one by one. The first ones leave alone: no pace is known yet.
func TestBatchWait(t *testing.T) {
	const window, n = 400 * time.Millisecond, 60
	for _, c := range []struct {
		name          string
		wait, gap     time.Duration
		minMean       float64 // uplinks per SendBatch
		maxMean       float64
		latestAfterRx time.Duration // window end to departure, at most
	}{
		{"10/s, 400ms", 400 * time.Millisecond, 100 * time.Millisecond, 2.5, 5, window + 400*time.Millisecond},
		{"10/s, 0", 0, 100 * time.Millisecond, 1, 1.2, window + maxCarry},
		{"2/s, 400ms", 400 * time.Millisecond, 500 * time.Millisecond, 1, 1, window + mergeTick},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				conn := &recording{}
				m := NewManager(&memStore{}, Options{MergeWindow: window, BatchWait: c.wait, Merger: noMerge{}}, nil, nil)
				m.Start(context.Background(), []Connection{{ID: "1", Name: "batches", Connector: conn}})
				received := enqueuePaced(t, m, n, func(uint32) time.Duration { return c.gap })
				time.Sleep(window + maxCarry + time.Second)
				synctest.Wait()
				if err := m.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				conn.mu.Lock()
				defer conn.mu.Unlock()
				if len(conn.sent) != n {
					t.Fatalf("%d of %d sent", len(conn.sent), n)
				}
				for fcnt, rx := range received {
					d, latest := conn.sent[fcnt].Sub(rx), c.latestAfterRx
					if fcnt > n-carryGaps {
						latest = max(latest, window+maxCarry) // arrivals stopped
					}
					if d < window-mergeSlack || d > latest {
						t.Errorf("uplink %d left %v after its reception, want from %v to %v", fcnt, d, window-mergeSlack, latest)
					}
				}
				mean := float64(n) / float64(len(conn.batches))
				t.Logf("%d batches, %.2f uplinks each", len(conn.batches), mean)
				if mean < c.minMean || mean > c.maxMean {
					t.Errorf("%.2f uplinks per batch, want from %.1f to %.1f", mean, c.minMean, c.maxMean)
				}
			})
		})
	}
}
