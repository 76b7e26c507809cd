package connector

import (
	"context"
	"sync"
	"time"
)

// deadline bounds each batch by delivery.timeout with one context and one
// timer kept from batch to batch. context.WithTimeout per batch made a
// context, a timer and, once net/http derived its own, a map of children
// each time; resetting and stopping the kept timer per batch still cost
// two runtime timer updates per uplink at 10/s. So the timer is lazy: a
// batch only notes when it started, and the timer, armed by the first
// batch, checks when it fires whether the batch in flight has run out of
// time, re-arms for what is left of it, or disarms when none is in flight.
// At a steady pace that is one firing per delivery.timeout. The context is
// made again only after the timer cancelled it, or when the caller's
// context changed or ended.
type deadline struct {
	mu      sync.Mutex // the timer's function runs beside a batch
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	armed   bool          // timer is set
	since   time.Time     // when the batch in flight started; zero: none
	timeout time.Duration // the batch's
}

// timedOut is the cause of a batch's context cancelled by its timer.
type timedOut struct{}

func (timedOut) Error() string { return "no answer within delivery.timeout" }
func (timedOut) Timeout() bool { return true }

// start returns the batch's context, which ends after timeout.
func (d *deadline) start(parent context.Context, timeout time.Duration) context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.parent != parent || d.ctx.Err() != nil {
		d.releaseLocked()
		d.parent = parent
		d.ctx, d.cancel = context.WithCancelCause(parent)
	}
	d.since, d.timeout = time.Now(), timeout
	if d.timer == nil {
		d.timer = time.AfterFunc(timeout, d.fire)
		d.armed = true
	} else if !d.armed {
		d.timer.Reset(timeout)
		d.armed = true
	}
	return d.ctx
}

// fire ends the batch in flight if it ran out of time, or waits for what
// is left of it.
func (d *deadline) fire() {
	d.mu.Lock()
	if d.since.IsZero() || d.cancel == nil {
		d.armed = false
		d.mu.Unlock()
		return
	}
	if left := d.timeout - time.Since(d.since); left > 0 {
		d.timer.Reset(left)
		d.mu.Unlock()
		return
	}
	d.armed = false
	cancel := d.cancel
	d.mu.Unlock()
	// Outside the lock: the cancellation runs the context's callbacks.
	// The next batch makes another context.
	cancel(timedOut{})
}

// stop ends the batch.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.since = time.Time{}
	if d.ctx != nil && d.ctx.Err() != nil {
		d.releaseLocked()
	}
}

// close releases the context (which the caller's context holds among its
// children until it ends) and the timer.
func (d *deadline) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseLocked()
	if d.timer != nil {
		d.timer.Stop()
		d.armed = false
	}
}

func (d *deadline) releaseLocked() {
	if d.cancel == nil {
		return
	}
	d.cancel(context.Canceled)
	d.parent, d.ctx, d.cancel = nil, nil, nil
}

// timedOutCtx tells whether ctx was ended by its deadline.
func timedOutCtx(ctx context.Context) bool {
	_, ok := context.Cause(ctx).(timedOut)
	return ok || ctx.Err() == context.DeadlineExceeded
}
