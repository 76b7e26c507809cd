package delivery

import (
	"context"
	"edgeflow/internal/testkit"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// seqBatch makes a connector a Batcher by sending one request after
// another, for as long as the HTTP connector is not one itself.
type seqBatch struct{ connector.Connector }

func (s seqBatch) SendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	for i, u := range ups {
		errs[i] = s.Send(ctx, u, late)
	}
}

func (seqBatch) MaxBatch() int { return 16 }

// Failures in the middle of batches: the endpoint refuses every 50th
// uplink for good and answers 503 to every 7th request. What it accepted
// after a 503 in the same batch must not be sent again, what failed must
// be sent again, and nothing may be lost: each uplink arrives exactly once
// or sits in the dead letters.
func TestBatchFailuresMidwayLoseNothingAndRepeatNothing(t *testing.T) {
	for _, persist := range []string{PersistOnOutage, PersistAlways} {
		t.Run(persist, func(t *testing.T) {
			s := newSink(t)
			var calls atomic.Int64
			s.setAnswer(func(doc map[string]any) int {
				if int(doc["FCntUp"].(float64))%50 == 0 {
					return http.StatusBadRequest
				}
				if calls.Add(1)%7 == 0 {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
			h, err := connector.NewHTTP(connector.HTTPConfig{URL: s.URL}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var c connector.Connector = h
			if b, ok := c.(connector.Batcher); !ok || b.MaxBatch() < 2 {
				c = seqBatch{h}
			}
			m := NewManager(st, Options{Persist: persist, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
				SpillAfter: 50 * time.Millisecond}, nil, nil)
			m.Start(context.Background(), []Connection{{ID: "1", Name: "test", Connector: c}})
			const n = 1000
			for i := uint32(1); i <= n; i += 20 {
				var ups []uplink.Uplink
				for j := i; j < i+20; j++ {
					ups = append(ups, testUplink(j))
				}
				if err := m.Enqueue(context.Background(), ups); err != nil {
					t.Fatal(err)
				}
			}
			got := s.waitFor(t, n-n/50)
			// The lane sets each refused uplink aside once it reads the
			// 400; a Stop before that would keep it queued (not lost).
			testkit.WaitUntil(t, "the dead letters", func() bool { return st.Stats("1").DeadLetters == n/50 })
			seen := map[int]bool{}
			for _, f := range fcnts(got) {
				if seen[f] || f%50 == 0 {
					t.Fatalf("FCnt %d delivered twice or despite its 400", f)
				}
				seen[f] = true
			}
			if err := m.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Stopped, the manager sends nothing more: a late repeat shows now.
			if got := len(s.received()); got != n-n/50 {
				t.Fatalf("endpoint got %d uplinks after the stop, want %d", got, n-n/50)
			}
			if dl := st.Stats("1").DeadLetters; dl != n/50 {
				t.Fatalf("%d dead letters, want %d", dl, n/50)
			}
			if calls.Load() < n/7 {
				t.Fatalf("only %d requests answered: the 503s were not exercised", calls.Load())
			}
			st.Close()
		})
	}
}
