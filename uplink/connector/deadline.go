package connector

import (
	"context"
	"sync"
	"time"
)

// deadline bounds each batch by delivery.timeout with one context and one
// timer kept from batch to batch: context.WithTimeout per batch made a
// context, a timer and, once net/http derived its own, a map of children
// each time. The context is made again only after the timer fired, or when
// the caller's context changed or ended.
type deadline struct {
	mu     sync.Mutex // Close may run beside a batch
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

// timedOut is the cause of a batch's context cancelled by its timer.
type timedOut struct{}

func (timedOut) Error() string { return "no answer within delivery.timeout" }
func (timedOut) Timeout() bool { return true }

// start returns the batch's context, which ends after timeout.
func (d *deadline) start(parent context.Context, timeout time.Duration) context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx != nil && d.parent == parent && d.ctx.Err() == nil {
		d.timer.Reset(timeout)
		return d.ctx
	}
	d.releaseLocked()
	ctx, cancel := context.WithCancelCause(parent)
	d.parent, d.ctx, d.cancel = parent, ctx, cancel
	d.timer = time.AfterFunc(timeout, func() { cancel(timedOut{}) })
	return ctx
}

// stop ends the batch. A timer that fired, or is firing, has cancelled or
// will cancel its context: the next batch makes another.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		d.releaseLocked()
	}
}

// close releases the context (which the caller's context holds among its
// children until it ends).
func (d *deadline) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseLocked()
}

func (d *deadline) releaseLocked() {
	if d.cancel == nil {
		return
	}
	d.timer.Stop()
	d.cancel(context.Canceled)
	d.parent, d.ctx, d.cancel, d.timer = nil, nil, nil, nil
}

// timedOutCtx tells whether ctx was ended by its deadline.
func timedOutCtx(ctx context.Context) bool {
	_, ok := context.Cause(ctx).(timedOut)
	return ok || ctx.Err() == context.DeadlineExceeded
}
