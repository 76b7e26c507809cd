package delivery

import (
	"context"
	"edgeflow/internal/testkit"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

func TestReconnectStrategySchedules(t *testing.T) {
	const h, d = time.Hour, 24 * time.Hour
	tests := []struct {
		name    string
		elapsed time.Duration
		want    time.Duration // 0: CLOSED
	}{
		{"CALM", 0, 10 * time.Minute}, {"CALM", 11 * h, 10 * time.Minute}, {"CALM", 12 * h, h}, {"CALM", 35 * h, h}, {"CALM", 36 * h, 0},
		{"NORMAL", 0, 5 * time.Minute}, {"NORMAL", 59 * time.Minute, 5 * time.Minute}, {"NORMAL", h, h}, {"NORMAL", 24 * h, h},
		{"NORMAL", 25 * h, d}, {"NORMAL", 1000 * h, d},
		{"AGGRESSIVE", 0, 3 * time.Minute}, {"AGGRESSIVE", 3 * h, 30 * time.Minute}, {"AGGRESSIVE", 3*h + 7*d - 1, 30 * time.Minute},
		{"AGGRESSIVE", 3*h + 7*d, h}, {"AGGRESSIVE", 10000 * h, h},
	}
	for _, tt := range tests {
		got, ok := ReconnectStrategy(tt.name).interval(tt.elapsed)
		if !ok {
			got = 0
		}
		if got != tt.want {
			t.Errorf("%s after %v: next attempt in %v, want %v", tt.name, tt.elapsed, got, tt.want)
		}
	}
	if ReconnectStrategy("") != nil {
		t.Error("no strategy must keep the fast backoff")
	}
}

// attempts records when the endpoint was tried.
type attempts struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *attempts) add() {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

func (a *attempts) get() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...)
}

func engineWith(t *testing.T, c Connection) (*Manager, *sink) {
	t.Helper()
	s := newSink(t)
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 1}, nil) // one in flight: the test checks the lane's order
	if err != nil {
		t.Fatal(err)
	}
	c.Connector = h
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	m := NewManager(st, Options{BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, SpillAfter: 100 * time.Millisecond}, nil, nil)
	m.Start(context.Background(), []Connection{c})
	t.Cleanup(func() { _ = m.Stop(context.Background()); st.Close() })
	return m, s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitUntil(t, what, cond)
}

// A reconnect strategy spaces the attempts on a failing endpoint by its
// interval, not by the fast backoff; the first success ends it.
func TestReconnectSchedulePacesRetries(t *testing.T) {
	const every = 150 * time.Millisecond
	m, s := engineWith(t, Connection{ID: "1", Name: "paced", Reconnect: Schedule{{Every: every}}})
	var tried attempts
	s.setAnswer(func(map[string]any) int { tried.add(); return http.StatusServiceUnavailable })
	// The second uplink comes after the first attempt failed: uplinks
	// queued together go out together, as one attempt, while the
	// connection is believed healthy.
	if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1 attempt", func() bool { return len(tried.get()) >= 1 })
	if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(2)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 attempts", func() bool { return len(tried.get()) >= 4 })
	s.setAnswer(func(map[string]any) int { tried.add(); return http.StatusOK })
	got := s.waitFor(t, 2)
	if f := fcnts(got); f[0] != 1 || f[1] != 2 || got[0]["Late"] != float64(1) {
		t.Errorf("delivered %v (Late %v), want [1 2] late", f, got[0]["Late"])
	}
	ts := tried.get()
	for i := 1; i < 4; i++ {
		if gap := ts[i].Sub(ts[i-1]); gap < every*9/10-5*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous; the strategy says every %v (±10%%)", i+1, gap, every)
		}
	}
}

// A strategy that ends (CALM) leaves the connection CLOSED with its
// backlog; changing the connection (a new lane) delivers it.
func TestReconnectScheduleCloses(t *testing.T) {
	c := Connection{ID: "1", Name: "calm", Reconnect: Schedule{{Every: 20 * time.Millisecond, For: 100 * time.Millisecond}}}
	m, s := engineWith(t, c)
	s.setAnswer(func(map[string]any) int { return http.StatusServiceUnavailable })
	if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(1), testUplink(2), testUplink(3)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "CLOSED", func() bool { return m.Status()[0].State == StateClosed })
	s.setAnswer(func(map[string]any) int { return http.StatusOK })
	// Nothing must happen: no event to wait for. 200 ms is ten of the
	// strategy's former intervals, in which a lane still trying would
	// have sent.
	time.Sleep(200 * time.Millisecond)
	if n := len(s.received()); n != 0 || m.Status()[0].Backlog != 3 {
		t.Fatalf("CLOSED connection sent %d, backlog %d; want 0 and 3", n, m.Status()[0].Backlog)
	}
	h, _ := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 1}, nil) // one in flight: the test checks the lane's order
	c.Connector = h
	m.Add(c)
	if f := fcnts(s.waitFor(t, 3)); f[0] != 1 || f[2] != 3 {
		t.Errorf("delivered %v after reopening", f)
	}
}

// An inactive connection queues (to flash) and sends nothing, shows
// DEACTIVATED with its backlog, and delivers it all, Late and in order,
// once active again.
func TestInactiveConnectionKeepsBacklog(t *testing.T) {
	for _, persist := range []string{PersistAlways, PersistOnOutage} {
		t.Run(persist, func(t *testing.T) {
			s := newSink(t)
			st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
			defer st.Close()
			m := NewManager(st, Options{Persist: persist, BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
				SpillAfter: 100 * time.Millisecond}, nil, nil)
			mk := func(inactive bool) Connection {
				h, _ := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 1}, nil) // one in flight: the test checks the lane's order
				return Connection{ID: "1", Name: "off", Connector: h, Inactive: inactive}
			}
			m.Start(context.Background(), []Connection{mk(true)})
			for i := uint32(1); i <= 5; i++ {
				if err := m.Enqueue(context.Background(), []uplink.Uplink{testUplink(i)}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "the backlog on flash", func() bool { return st.Stats("1").Count == 5 })
			// The lane counts a spill once its commit returns: wait for it.
			waitFor(t, "DEACTIVATED with 5 waiting", func() bool {
				ss := m.Status()[0]
				return ss.State == StateDeactivated && ss.Backlog == 5
			})
			if n := len(s.received()); n != 0 {
				t.Fatalf("an inactive connection sent %d uplinks", n)
			}
			m.Add(mk(false))
			got := s.waitFor(t, 5)
			for i, d := range got {
				if d["FCntUp"] != float64(i+1) || d["Late"] != float64(1) {
					t.Errorf("uplink %d: FCntUp %v Late %v", i, d["FCntUp"], d["Late"])
				}
			}
			if err := m.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
