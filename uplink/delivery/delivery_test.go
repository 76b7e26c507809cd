package delivery

import (
	"context"
	"edgeflow/internal/testkit"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// sink is testkit's endpoint answering 200 to a DevEUI_uplink document,
// or what setAnswer says; a 503 asks to retry at once (Retry-After: 0).
type sink struct{ *testkit.Sink }

func newSink(t *testing.T) *sink {
	s := &sink{testkit.NewSink(t)}
	s.setAnswer(func(map[string]any) int { return http.StatusOK })
	return s
}

func (s *sink) setAnswer(f func(map[string]any) int) {
	s.SetAnswer(func(r *testkit.Request) int {
		code := f(r.Uplink)
		if code == http.StatusServiceUnavailable {
			r.Reply.Set("Retry-After", "0")
		}
		return code
	})
}

func (s *sink) received() []map[string]any { return s.Uplinks() }

// waitFor waits until n uplinks were accepted; more fails.
func (s *sink) waitFor(t *testing.T, n int) []map[string]any { return s.WaitUplinks(t, n) }

func openStore(t *testing.T, path string) *buffer.Store {
	t.Helper()
	st, err := buffer.Open(path, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testUplink(fcnt uint32) uplink.Uplink {
	return uplink.Uplink{
		DevEUI: lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}, DevAddr: lorawan.DevAddr{1, 2, 3, 4},
		MType: lorawan.UnconfirmedDataUp, FCnt: fcnt, FPort: 1, Payload: []byte{byte(fcnt)},
		ReceivedAt: time.Now().UTC(), Frequency: 868.1, SF: 7, DataRate: "SF7BW125",
		Receptions: []uplink.Reception{{RSSI: -70, SNR: 5}},
	}
}

func newEngine(t *testing.T, st *buffer.Store, url, persist string) *Manager {
	t.Helper()
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: url, Concurrency: 1}, nil) // one in flight: the test checks the lane's order
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{Persist: persist, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		SpillAfter: 200 * time.Millisecond}, nil, nil)
	m.Start(context.Background(), []Connection{{ID: "1", Name: "test", Connector: h}})
	return m
}

func fcnts(docs []map[string]any) []int {
	var out []int
	for _, d := range docs {
		out = append(out, int(d["FCntUp"].(float64)))
	}
	return out
}

// A failing endpoint holds uplinks back; once it answers they arrive in
// order, marked Late, and uplinks sent while it was healthy are not Late.
func TestOrderAndLateThroughOutage(t *testing.T) {
	for _, persist := range []string{PersistAlways, PersistOnOutage} {
		t.Run(persist, func(t *testing.T) {
			s := newSink(t)
			st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
			m := newEngine(t, st, s.URL, persist)
			ctx := context.Background()
			for i := uint32(1); i <= 3; i++ {
				if err := m.Enqueue(ctx, []uplink.Uplink{testUplink(i)}); err != nil {
					t.Fatal(err)
				}
			}
			s.waitFor(t, 3)
			s.setAnswer(func(map[string]any) int { return http.StatusServiceUnavailable })
			for i := uint32(4); i <= 20; i++ {
				if err := m.Enqueue(ctx, []uplink.Uplink{testUplink(i)}); err != nil {
					t.Fatal(err)
				}
			}
			testkit.WaitUntil(t, "UNREACHABLE with 17 waiting", func() bool {
				st := m.Status()[0]
				return st.State == StateUnreachable && st.Backlog == 17
			})
			if persist == PersistOnOutage {
				testkit.WaitUntil(t, "on-outage: the backlog written to flash while the endpoint fails",
					func() bool { return st.Stats("1").Count > 0 })
			}
			s.setAnswer(func(map[string]any) int { return http.StatusAccepted })
			got := s.waitFor(t, 20)
			for i, d := range got {
				if int(d["FCntUp"].(float64)) != i+1 {
					t.Fatalf("order: %v", fcnts(got))
				}
				wantLate := float64(0)
				if i >= 3 {
					wantLate = 1
				}
				if d["Late"] != wantLate {
					t.Errorf("FCnt %d: Late %v, want %v", i+1, d["Late"], wantLate)
				}
			}
			// The lane learns of the last 2xx after the endpoint sent it.
			testkit.WaitUntil(t, "OPENED with nothing waiting", func() bool {
				st := m.Status()[0]
				return st.State == StateOpened && st.Backlog == 0
			})
			if err := m.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if n := st.Stats("1").Count; n != 0 {
				t.Errorf("%d records left in the buffer after delivery", n)
			}
			st.Close()
		})
	}
}

// A 4xx other than 408/429 sets the uplink aside in the dead letters and
// the queue goes on.
func TestRejectedUplinkGoesToDeadLetters(t *testing.T) {
	for _, persist := range []string{PersistAlways, PersistOnOutage} {
		t.Run(persist, func(t *testing.T) {
			s := newSink(t)
			s.setAnswer(func(d map[string]any) int {
				if d["FCntUp"] == float64(2) {
					return http.StatusBadRequest
				}
				return http.StatusOK
			})
			st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
			m := newEngine(t, st, s.URL, persist)
			if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(1), testUplink(2), testUplink(3)}); err != nil {
				t.Fatal(err)
			}
			got := s.waitFor(t, 2)
			if f := fcnts(got); f[0] != 1 || f[1] != 3 {
				t.Errorf("delivered %v, want [1 3]", f)
			}
			// The 400 is answered; the lane sets the uplink aside once it
			// reads the answer (a Stop before that keeps it queued).
			testkit.WaitUntil(t, "the dead letter", func() bool { return st.Stats("1").DeadLetters == 1 })
			_ = m.Stop(context.Background())
			dls, err := st.DeadLetters("1")
			if err != nil || len(dls) != 1 || dls[0].Reason != "http_400" {
				t.Fatalf("dead letters %+v %v", dls, err)
			}
			var up uplink.Uplink
			if err := up.UnmarshalBinary(dls[0].Data); err != nil || up.FCnt != 2 {
				t.Errorf("dead letter holds FCnt %d (%v)", up.FCnt, err)
			}
			st.Close()
		})
	}
}

// Stopping during an outage writes what is in memory to flash; a new
// engine on the same file delivers it, Late.
func TestStopKeepsMemoryUplinks(t *testing.T) {
	s := newSink(t)
	s.setAnswer(func(map[string]any) int { return http.StatusBadGateway })
	path := filepath.Join(t.TempDir(), "b.db")
	st := openStore(t, path)
	m := newEngine(t, st, s.URL, PersistOnOutage)
	var ups []uplink.Uplink
	for i := uint32(1); i <= 50; i++ {
		ups = append(ups, testUplink(i))
	}
	if err := m.Enqueue(context.Background(), ups); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s.setAnswer(func(map[string]any) int { return http.StatusOK })
	st = openStore(t, path)
	m = newEngine(t, st, s.URL, PersistOnOutage)
	got := s.waitFor(t, 50)
	for i, d := range got {
		if int(d["FCntUp"].(float64)) != i+1 || d["Late"] != float64(1) {
			t.Fatalf("uplink %d: FCnt %v Late %v", i, d["FCntUp"], d["Late"])
		}
	}
	_ = m.Stop(context.Background())
	st.Close()
}

// Retry-After is honoured: no new attempt before it has passed.
func TestRetryAfterHonoured(t *testing.T) {
	var attempts []time.Time
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts = append(attempts, time.Now())
		n := len(attempts)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	m := newEngine(t, st, srv.URL, PersistAlways)
	if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(1)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, "a second attempt", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= 2
	})
	_ = m.Stop(context.Background())
	st.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 {
		t.Fatalf("%d attempts", len(attempts))
	}
	if gap := attempts[1].Sub(attempts[0]); gap < time.Second {
		t.Errorf("retried after %v despite Retry-After: 1", gap)
	}
}

// A backlog of many batches drains to the last record with no live uplink
// behind it: a batch of acks still being deleted in the background must not
// make the lane think the queue is empty (it did: a load of 20,000 uplinks
// left 12,000 on flash until the next uplink arrived).
func TestBacklogDrainsPastBackgroundAcks(t *testing.T) {
	s := newSink(t)
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	const n = 1000
	recs := make([]buffer.Record, n)
	for i := range recs {
		up := testUplink(uint32(i + 1))
		recs[i] = buffer.Record{Time: up.ReceivedAt, Data: encodeRecord(&up)}
	}
	if err := st.Append(context.Background(), "1", recs); err != nil {
		t.Fatal(err)
	}
	m := newEngine(t, st, s.URL, PersistOnOutage)
	got := s.waitFor(t, n)
	for i, d := range got {
		if int(d["FCntUp"].(float64)) != i+1 {
			t.Fatalf("order: %v", fcnts(got)[:min(len(got), 20)])
		}
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
}
