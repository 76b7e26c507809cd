package delivery

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"edgeflow/buffer"
	"edgeflow/uplink"
)

// memStore is a Store in memory, for tests in a synctest bubble (bbolt's
// writer would be one more goroutine of the bubble).
type memStore struct {
	mu   sync.Mutex
	seq  uint64
	recs map[string][]buffer.Record
}

func (s *memStore) Append(_ context.Context, q string, recs []buffer.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = map[string][]buffer.Record{}
	}
	for i := range recs {
		s.seq++
		recs[i].Seq = s.seq
		s.recs[q] = append(s.recs[q], recs[i])
	}
	return nil
}

// Commit applies the batch's appends (the lanes' state writes go elsewhere).
func (s *memStore) Commit(ctx context.Context, b *buffer.Batch) error {
	return b.ForEachAppend(func(q string, recs []buffer.Record) { _ = s.Append(ctx, q, recs) })
}

func (s *memStore) Peek(q string, max int) ([]buffer.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[q]
	return slices.Clone(r[:min(max, len(r))]), nil
}

func (s *memStore) Ack(q string, seqs []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[q] = slices.DeleteFunc(s.recs[q], func(r buffer.Record) bool { return slices.Contains(seqs, r.Seq) })
	return nil
}

func (s *memStore) DeadLetter(q string, seq uint64, _ string) error { return s.Ack(q, []uint64{seq}) }

func (s *memStore) Stats(q string) buffer.QueueStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return buffer.QueueStats{Count: len(s.recs[q])}
}

// accepting is a connector that takes every uplink.
type accepting struct{ n atomic.Int64 }

func (a *accepting) Send(context.Context, *uplink.Uplink, bool) error { a.n.Add(1); return nil }
func (a *accepting) Close()                                           {}

// An idle lane sets no timer and runs no ticker: after its uplinks are
// delivered and its acks applied, an hour passes without the lane's loop
// looking at the clock once. (A gateway's agent that wakes while idle
// costs CPU and power for nothing.)
func TestIdleLaneDoesNotWake(t *testing.T) {
	for _, persist := range []string{PersistOnOutage, PersistAlways} {
		t.Run(persist, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var looks atomic.Int64
				now := func() time.Time { looks.Add(1); return time.Now() }
				conn := &accepting{}
				m := NewManager(&memStore{}, Options{Persist: persist, Now: now, MergeWindow: 400 * time.Millisecond,
					Merger: noMerge{}}, nil, nil)
				m.Start(context.Background(), []Connection{{ID: "1", Name: "idle", Connector: conn}})
				for i := range uint32(20) {
					up := testUplink(i + 1)
					up.ReceivedAt = time.Now()
					if err := m.Enqueue(context.Background(), []uplink.Uplink{up}); err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Millisecond) // 10 uplinks/s
				}
				time.Sleep(5 * time.Second) // merge windows, ack flushes
				synctest.Wait()
				if got := conn.n.Load(); got != 20 {
					t.Fatalf("%d uplinks sent, want 20", got)
				}
				before := looks.Load()
				time.Sleep(time.Hour)
				synctest.Wait()
				if n := looks.Load() - before; n != 0 {
					t.Errorf("the idle lane looked at the clock %d times in an hour", n)
				}
				if s := m.Status()[0]; s.Backlog != 0 || s.Delivered != 20 {
					t.Errorf("status: backlog %d, delivered %d; want 0, 20", s.Backlog, s.Delivered)
				}
				if err := m.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// A steady 10 uplinks/s whose datagrams come a millisecond early or late
// costs the lane no more wakeups than a metronome: the 400 ms merge window
// ends right as a later datagram arrives, and the timer must not take the
// uplinks that this datagram's wakeup just missed (see maxCarry).
func TestJitterDoesNotWakeTheLane(t *testing.T) {
	const n = 200
	looks := func(jitter bool) int64 {
		var got int64
		synctest.Test(t, func(t *testing.T) {
			var looks atomic.Int64
			now := func() time.Time { looks.Add(1); return time.Now() }
			conn := &accepting{}
			m := NewManager(&memStore{}, Options{Now: now, MergeWindow: 400 * time.Millisecond, Merger: noMerge{}}, nil, nil)
			m.Start(context.Background(), []Connection{{ID: "1", Name: "jitter", Connector: conn}})
			for i := range uint32(n) {
				up := testUplink(i + 1)
				up.ReceivedAt = time.Now()
				if err := m.Enqueue(context.Background(), []uplink.Uplink{up}); err != nil {
					t.Fatal(err)
				}
				gap := 100 * time.Millisecond
				if jitter {
					gap += time.Duration(int(i*7%5)-2) * time.Millisecond // -2..+2 ms
				}
				time.Sleep(gap)
			}
			synctest.Wait()
			got = looks.Load()
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if got := conn.n.Load(); got != n {
				t.Errorf("%d uplinks sent, want %d", got, n)
			}
			if err := m.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
		return got
	}
	steady, jittered := looks(false), looks(true)
	t.Logf("clock looks for %d uplinks: %d at a steady pace, %d with jitter", n, steady, jittered)
	if jittered > steady+n/20 {
		t.Errorf("with a jitter of 2 ms the lane looked at the clock %d times for %d uplinks, %d at a steady pace: its timer wakes it", jittered, n, steady)
	}
}

// At a steady 10/s with a jitter of 2 ms, each uplink leaves with the
// datagram that arrives as its 400 ms window ends, one at a time: not a
// pace later, paired with the next (see mergeSlack).
func TestPaceSendsEachWithItsWindowEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 400 * time.Millisecond
		conn := &recording{}
		m := NewManager(&memStore{}, Options{MergeWindow: window, Merger: noMerge{}}, nil, nil)
		m.Start(context.Background(), []Connection{{ID: "1", Name: "pace", Connector: conn}})
		received := enqueuePaced(t, m, 100, func(i uint32) time.Duration {
			return 100*time.Millisecond + time.Duration(int(i*7%5)-2)*time.Millisecond
		})
		time.Sleep(time.Second)
		synctest.Wait()
		conn.mu.Lock()
		defer conn.mu.Unlock()
		late := 0
		for fcnt, at := range conn.sent {
			// The last four have no datagram after them: the timer takes them.
			if d := at.Sub(received[fcnt]); fcnt <= 96 && (d < window-mergeSlack || d > window+mergeSlack) {
				late++
			}
		}
		if len(conn.sent) != 100 || late > 0 {
			t.Errorf("%d uplinks sent, %d of them not with the datagram that ended their window", len(conn.sent), late)
		}
		if err := m.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

type noMerge struct{}

func (noMerge) Apply(*uplink.Uplink) {}

// recording is a connector that notes when each uplink was sent; with
// after, it answers that long after, as an endpoint does.
type recording struct {
	after   time.Duration
	mu      sync.Mutex
	sent    map[uint32]time.Time
	batches []int // the size of each Send (1) and SendBatch
}

func (r *recording) Send(_ context.Context, u *uplink.Uplink, _ bool) error {
	r.mu.Lock()
	r.batches = append(r.batches, 1)
	r.mu.Unlock()
	return r.send(u)
}

func (r *recording) send(u *uplink.Uplink) error {
	time.Sleep(r.after)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = map[uint32]time.Time{}
	}
	r.sent[u.FCnt] = time.Now()
	return nil
}
func (r *recording) Close() {}

// SendBatch makes recording a Batcher, so that uplinks leave together.
func (r *recording) SendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	r.mu.Lock()
	r.batches = append(r.batches, len(ups))
	r.mu.Unlock()
	for i, u := range ups {
		errs[i] = r.send(u)
	}
}

func (r *recording) MaxBatch() int { return 32 }

// enqueuePaced enqueues n uplinks, each received as it is enqueued, and
// sleeps gap(i) after the i-th; it returns their reception times.
func enqueuePaced(t *testing.T, m *Manager, n uint32, gap func(i uint32) time.Duration) map[uint32]time.Time {
	t.Helper()
	received := map[uint32]time.Time{}
	for i := range n {
		up := testUplink(i + 1)
		up.ReceivedAt = time.Now()
		received[up.FCnt] = up.ReceivedAt
		if err := m.Enqueue(context.Background(), []uplink.Uplink{up}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap(i))
	}
	return received
}

// An uplink leaves after its merge window (or mergeSlack before) and at
// most maxCarry later, whether the pace of arrivals carries it (10/s,
// 100/s) or the timer does (the last ones, and a pace slower than the
// window).
func TestMergeWindowBounds(t *testing.T) {
	for _, every := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, 430 * time.Millisecond} {
		t.Run(every.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const window = 400 * time.Millisecond
				conn := &recording{}
				m := NewManager(&memStore{}, Options{MergeWindow: window, Merger: noMerge{}}, nil, nil)
				m.Start(context.Background(), []Connection{{ID: "1", Name: "merge", Connector: conn}})
				received := enqueuePaced(t, m, 50, func(uint32) time.Duration { return every })
				time.Sleep(time.Second)
				synctest.Wait()
				conn.mu.Lock()
				defer conn.mu.Unlock()
				if len(conn.sent) != len(received) {
					t.Fatalf("%d uplinks sent, want %d", len(conn.sent), len(received))
				}
				for fcnt, at := range conn.sent {
					if d := at.Sub(received[fcnt]); d < window-mergeSlack || d > window+maxCarry {
						t.Errorf("uplink %d sent %v after its reception, want %v to %v", fcnt, d, window-mergeSlack, window+maxCarry)
					}
				}
				if err := m.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// At a steady pace the timer is a fallback for when arrivals stop, set far
// enough out that moving it at every arrival leaves the runtime no stale
// deadline to wake for before the next arrival (see maxCarry); at a slower
// pace the timer takes the uplink shortly after its window.
func TestCarryIsAFallbackAtASteadyPace(t *testing.T) {
	for _, c := range []struct {
		gap  time.Duration
		want time.Duration
	}{
		{time.Millisecond, mergeTick},
		{10 * time.Millisecond, 100 * time.Millisecond},
		{100 * time.Millisecond, maxCarry},
		{steadyGap, maxCarry},
		{steadyGap + time.Millisecond, mergeTick},
		{time.Second, mergeTick},
	} {
		l := &lane{arrivalGap: c.gap}
		if got := l.carry(); got != c.want {
			t.Errorf("arrivals %v apart: carry %v, want %v", c.gap, got, c.want)
		}
	}
	if maxCarry < 5*steadyGap || carryGaps < 5 {
		t.Errorf("maxCarry %v, carryGaps %d: the fallback must be several arrivals out, or the runtime wakes for its stale deadlines every other arrival", maxCarry, carryGaps)
	}
}

// At a steady pace the answer of an accepted uplink rides the next
// arrival's wakeup (inbox.setQuiet): the lane wakes about once per
// uplink, where waking for each answer too made it twice. When arrivals
// stop, the timer that sends the last uplinks settles the answers: the
// status counts every delivery.
func TestSteadyPaceAnswersRideTheNextWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 100
		var looks atomic.Int64
		now := func() time.Time { looks.Add(1); return time.Now() }
		conn := &recording{after: 5 * time.Millisecond} // a Batcher, as the HTTP connector is: gather looks past a batch's last uplink
		m := NewManager(&memStore{}, Options{Now: now, MergeWindow: 400 * time.Millisecond, Merger: noMerge{}}, nil, nil)
		m.Start(context.Background(), []Connection{{ID: "1", Name: "quiet", Connector: conn}})
		synctest.Wait()
		before := looks.Load()
		received := enqueuePaced(t, m, n, func(uint32) time.Duration { return 100 * time.Millisecond })
		synctest.Wait()
		perUplink := float64(looks.Load()-before) / n
		t.Logf("%.2f clock looks per uplink", perUplink)
		if perUplink > 1.5 { // a look per wake of the loop
			t.Errorf("%.2f clock looks per uplink at 10/s: the lane wakes for each answer", perUplink)
		}
		time.Sleep(2 * time.Second) // the last windows, and the timer after them
		synctest.Wait()
		s := m.Status()[0]
		conn.mu.Lock()
		sent := len(conn.sent)
		conn.mu.Unlock()
		if sent != n || s.Delivered != n {
			t.Errorf("%d sent, status says %d delivered; want %d", sent, s.Delivered, n)
		}
		// The last one left after its window, by the timer.
		if last := received[n].Add(400*time.Millisecond - mergeSlack); s.LastDelivery.Before(last) || s.LastDelivery.After(time.Now()) {
			t.Errorf("last delivery at %v, want between %v and now, %v", s.LastDelivery, last, time.Now())
		}
		if err := m.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
