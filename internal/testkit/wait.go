package testkit

import (
	"os"
	"sync"
	"testing"
	"time"
)

// Patience is how long a test waits for what a real process, socket or
// goroutine will do before it fails. It is long on purpose: the machine
// the tests run on is shared, and a process may stall for seconds there;
// a passing test never waits it out, so it costs nothing.
const Patience = 60 * time.Second

// patience is Patience, cut short so that a test fails with its own
// message before "go test -timeout" kills the whole binary.
func patience(tb testing.TB) time.Duration {
	p := Patience
	if t, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := t.Deadline(); ok {
			if left := time.Until(d) - 5*time.Second; left < p {
				p = max(left, time.Second)
			}
		}
	}
	return p
}

// WaitUntil polls cond until it holds and fails tb after Patience. It is
// for state only a real thing changes (a subprocess's API, a file); state
// of the test's own goroutines has channels to wait on.
func WaitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(patience(tb))
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", patience(tb), what)
		}
		// Polling something outside the test's goroutines: no event to
		// wait for, a short sleep between looks.
		time.Sleep(5 * time.Millisecond)
	}
}

// Need skips the test when what it needs is missing (ok false) — except
// under CI (EDGEFLOW_CI set, as .ci/run does), which installs it: there a
// missing tool fails the test, so that a skip cannot pass for a success.
func Need(tb testing.TB, ok bool, what string) {
	tb.Helper()
	if ok {
		return
	}
	if os.Getenv("EDGEFLOW_CI") != "" {
		tb.Fatalf("%s is missing, and CI (EDGEFLOW_CI) installs it", what)
	}
	tb.Skipf("%s is missing", what)
}

// changes wakes whoever waits for recorded state to change: a channel
// closed, and replaced, at each change.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next change.
func (c *changes) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// waitFor checks cond at each change until it holds; false after
// patience. The channel is taken before cond is checked, so that a
// change between the two is not missed.
func (c *changes) waitFor(tb testing.TB, cond func() bool) bool {
	timeout := time.NewTimer(patience(tb))
	defer timeout.Stop()
	for {
		ch := c.wait()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-timeout.C:
			return cond()
		}
	}
}
