package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// Step is one phase of a reconnect schedule: an attempt every Every, for
// For after the previous phase ended; a For of 0 lasts forever.
type Step struct {
	Every, For time.Duration
}

// Schedule is one of IoT Flow's reconnect strategies. It applies to a
// connection that keeps failing; the first success ends it. A schedule
// whose last phase ends leaves the connection CLOSED: uplinks still queue,
// but nothing is sent until the connection is changed or the agent
// restarts, as in IoT Flow.
type Schedule []Step

// ReconnectStrategy returns the schedule of an IoT Flow reconnectStrategy
// (reference §2.2), or nil, which keeps the lane's fast backoff, for ""
// and unknown names.
func ReconnectStrategy(name string) Schedule {
	const day = 24 * time.Hour
	switch name {
	case "CALM": // every 10 min for 12 h, hourly for 1 day, then CLOSED
		return Schedule{{10 * time.Minute, 12 * time.Hour}, {time.Hour, day}}
	case "NORMAL": // every 5 min for 1 h, hourly for 1 day, then daily forever
		return Schedule{{5 * time.Minute, time.Hour}, {time.Hour, day}, {day, 0}}
	case "AGGRESSIVE": // every 3 min for 3 h, every 30 min for 1 week, then hourly forever
		return Schedule{{3 * time.Minute, 3 * time.Hour}, {30 * time.Minute, 7 * day}, {time.Hour, 0}}
	}
	return nil
}

// interval is the wait before the next attempt when the connection has
// been failing for elapsed; false when the schedule is over.
func (s Schedule) interval(elapsed time.Duration) (time.Duration, bool) {
	var end time.Duration
	for _, st := range s {
		if st.For == 0 {
			return st.Every, true
		}
		end += st.For
		if elapsed < end {
			return st.Every, true
		}
	}
	return 0, false
}

// scheduled paces a connector by a Schedule. It wraps the connector rather
// than the lane's loop: the lane still backs off, orders, spills and marks
// Late as for any connection, and simply finds Send waiting for the next
// attempt's time. The wait is ±10 % jittered so that gateways that lost
// the same endpoint do not come back in step.
type scheduled struct {
	inner connector.Connector
	sched Schedule
	now   func() time.Time

	stop <-chan struct{} // the lane's stop; set before its first send

	mu     sync.Mutex
	since  time.Time // first failure of the current run of failures
	next   time.Time // no attempt before this
	closed bool      // the schedule is over
}

func (s *scheduled) Send(ctx context.Context, u *uplink.Uplink, late bool) error {
	var errs [1]error
	s.SendBatch(ctx, []*uplink.Uplink{u}, late, errs[:])
	return errs[0]
}

// SendBatch waits for the schedule's next attempt, then sends; a batch
// counts as one attempt, which fails when its first non-refused uplink does.
func (s *scheduled) SendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	s.mu.Lock()
	next, closed := s.next, s.closed
	s.mu.Unlock()
	if closed {
		select {
		case <-ctx.Done():
		case <-s.stop:
		}
		fill(errs, &connector.Error{Kind: connector.Retry, Reason: "closed", Err: errors.New("the reconnect strategy gave up: connection CLOSED")})
		return
	}
	if d := next.Sub(s.now()); d > 0 && !sleepUnlessStopping(ctx, s.stop, d) {
		fill(errs, &connector.Error{Kind: connector.Retry, Reason: "canceled", Err: ctx.Err()})
		return
	}
	if b, ok := s.inner.(connector.Batcher); ok && len(ups) > 1 {
		b.SendBatch(ctx, ups, late, errs)
	} else {
		for i, u := range ups {
			errs[i] = s.inner.Send(ctx, u, late)
		}
	}
	var err error
	for _, e := range errs {
		if e == nil || connector.AsError(e).Kind != connector.Reject {
			err = e // a refused uplink says nothing about the connection
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.since, s.next = time.Time{}, time.Time{}
		return
	}
	if ctx.Err() != nil {
		return
	}
	now := s.now()
	if s.since.IsZero() {
		s.since = now
	}
	iv, ok := s.sched.interval(now.Sub(s.since))
	if !ok {
		s.closed = true
		return
	}
	j := time.Duration(rand.Int64N(int64(iv)/5+1)) - iv/10
	s.next = now.Add(iv + j)
}

// MaxBatch is the inner connector's.
func (s *scheduled) MaxBatch() int {
	if b, ok := s.inner.(connector.Batcher); ok {
		return b.MaxBatch()
	}
	return 1
}

func fill(errs []error, err error) {
	for i := range errs {
		errs[i] = err
	}
}

func (s *scheduled) Close() { s.inner.Close() }

func (s *scheduled) setStop(stop <-chan struct{}) { s.stop = stop }

func (s *scheduled) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// paused is the connector of an inactive connection: its lane queues
// uplinks (to flash, after SpillAfter) and sends none. Send holds the
// uplink until the lane stops; the lane then keeps it, as it keeps any
// uplink whose send was cut short.
type paused struct {
	inner connector.Connector
	stop  <-chan struct{}
}

func (p *paused) setStop(stop <-chan struct{}) { p.stop = stop }

func (p *paused) Send(ctx context.Context, _ *uplink.Uplink, _ bool) error {
	select {
	case <-ctx.Done():
	case <-p.stop:
	}
	return &connector.Error{Kind: connector.Retry, Reason: "deactivated", Err: errors.New("the connection is not active")}
}

func (p *paused) Close() {
	if p.inner != nil {
		p.inner.Close()
	}
}
