package delivery

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgeflow/internal/testkit"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// deviceUplink is testUplink from device dev.
func deviceUplink(dev byte, fcnt uint32) uplink.Uplink {
	u := testUplink(fcnt)
	u.DevEUI[7] = dev
	return u
}

func refusalEngine(t *testing.T, url, persist string, concurrency int) (*Manager, func() Status) {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: url, Concurrency: concurrency}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{Persist: persist, BackoffMin: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		SpillAfter: 100 * time.Millisecond}, nil, nil)
	m.Start(context.Background(), []Connection{{ID: "1", Name: "test", Connector: h}})
	t.Cleanup(func() { _ = m.Stop(context.Background()); st.Close() })
	return m, func() Status { return m.Status()[0] }
}

// One device refused (a per-device ACL, a WAF rule) is not an outage: the
// other devices' uplinks all arrive, once, and the refused device's go to
// the dead letters; the connection stays OPENED. 401, 403, 404 and 413 all
// follow that rule, one at a time and with requests in flight together.
func TestOneRefusedDeviceDoesNotStopTheConnection(t *testing.T) {
	for _, code := range []int{http.StatusForbidden, http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestEntityTooLarge} {
		for _, conc := range []int{1, 8} {
			for _, persist := range []string{PersistOnOutage, PersistAlways} {
				t.Run(http.StatusText(code)+"/"+persist+"/"+string(rune('0'+conc)), func(t *testing.T) {
					s := newSink(t)
					s.setAnswer(func(doc map[string]any) int {
						if doc["DevEUI"] == "0102030405060709" {
							return code
						}
						return http.StatusOK
					})
					m, status := refusalEngine(t, s.URL, persist, conc)
					// The refused device's uplink comes first, then an
					// interleaving of the two.
					var ups []uplink.Uplink
					for i := uint32(1); i <= 40; i++ {
						dev := byte(8)
						if i%4 == 1 {
							dev = 9
						}
						ups = append(ups, deviceUplink(dev, i))
					}
					if err := m.Enqueue(context.Background(), ups); err != nil {
						t.Fatal(err)
					}
					got := s.waitFor(t, 30)
					seen := map[int]bool{}
					for _, f := range fcnts(got) {
						if seen[f] || f%4 == 1 {
							t.Fatalf("FCnt %d delivered twice or despite its refusal", f)
						}
						seen[f] = true
					}
					waitFor(t, "10 dead letters", func() bool { return status().DeadLetters == 10 })
					if st := status(); st.State != StateOpened || st.Reason != "" {
						t.Errorf("state %s (%s), want OPENED", st.State, st.Reason)
					}
				})
			}
		}
	}
}

// When every uplink is refused, the connection is what is refused: it
// fails, with the reason in words, and keeps every uplink; none goes to
// the dead letters. Once the endpoint accepts again they all arrive.
func TestEveryUplinkRefusedFailsTheConnection(t *testing.T) {
	for _, c := range []struct {
		code  int
		state string
	}{{http.StatusForbidden, StateAuthenticationFailed}, {http.StatusNotFound, StateUnreachable}} {
		for _, persist := range []string{PersistOnOutage, PersistAlways} {
			t.Run(http.StatusText(c.code)+"/"+persist, func(t *testing.T) {
				s := newSink(t)
				s.setAnswer(func(map[string]any) int { return c.code })
				m, status := refusalEngine(t, s.URL, persist, 4)
				var ups []uplink.Uplink
				for i := uint32(1); i <= 12; i++ {
					ups = append(ups, deviceUplink(byte(i%3), i))
				}
				if err := m.Enqueue(context.Background(), ups); err != nil {
					t.Fatal(err)
				}
				waitFor(t, c.state, func() bool { return status().State == c.state })
				if st := status(); st.Reason != ReasonRefused || st.DeadLetters != 0 || st.Backlog != 12 {
					t.Fatalf("reason %q, %d dead letters, backlog %d; want refused, 0, 12", st.Reason, st.DeadLetters, st.Backlog)
				}
				s.setAnswer(func(map[string]any) int { return http.StatusOK })
				got := s.waitFor(t, 12)
				seen := map[int]bool{}
				for _, f := range fcnts(got) {
					if seen[f] {
						t.Fatalf("FCnt %d delivered twice", f)
					}
					seen[f] = true
				}
				if st := status(); st.DeadLetters != 0 {
					t.Fatalf("%d dead letters", st.DeadLetters)
				}
			})
		}
	}
}

// After an outage one INFO line says the connection recovered, how long
// the outage lasted and how many uplinks were queued; refusals that
// repeat are one WARN line per interval, not one per uplink.
func TestRecoveryLineAndQuietRefusals(t *testing.T) {
	s := newSink(t)
	s.setAnswer(func(map[string]any) int { return http.StatusServiceUnavailable })
	var logs testkit.LogBuffer
	st := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond, SpillAfter: 100 * time.Millisecond},
		slog.New(slog.NewTextHandler(&logs, nil)), nil)
	m.Start(context.Background(), []Connection{{ID: "1", Name: "test", Connector: h}})
	t.Cleanup(func() { _ = m.Stop(context.Background()); st.Close() })
	var ups []uplink.Uplink
	for i := uint32(1); i <= 10; i++ {
		ups = append(ups, deviceUplink(byte(i%2), i))
	}
	if err := m.Enqueue(context.Background(), ups); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "UNREACHABLE", func() bool { return m.Status()[0].State == StateUnreachable })
	// Back, but refusing every uplink with 400: each goes to the dead
	// letters, with one WARN line for all of them.
	s.setAnswer(func(doc map[string]any) int {
		if doc["FCntUp"].(float64) > 10 {
			return http.StatusOK
		}
		return http.StatusBadRequest
	})
	waitFor(t, "10 dead letters", func() bool { return m.Status()[0].DeadLetters == 10 })
	if err := m.Enqueue(context.Background(), []uplink.Uplink{deviceUplink(1, 11)}); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, 1)
	// The line follows the answer, on the lane's goroutine.
	waitFor(t, "the recovery line", func() bool { return strings.Contains(logs.String(), "connection recovered") })
	text := logs.String()
	if n := strings.Count(text, "refused by the endpoint"); n != 1 {
		t.Errorf("%d refusal lines for 10 refusals, want 1:\n%s", n, text)
	}
	if !strings.Contains(text, `msg="connection failing; uplinks are kept and retried" connection=test state=UNREACHABLE reason="endpoint answers with errors"`) {
		t.Errorf("no failing line with its reason:\n%s", text)
	}
	if !strings.Contains(text, `msg="connection recovered; the backlog drains now" connection=test outage=`) || !strings.Contains(text, "queued=") {
		t.Errorf("no recovery line:\n%s", text)
	}
}
