package delivery

// The lane's loop: gather the uplinks that are ready, send them (several
// in flight when the connector is a Batcher), and settle each outcome.

import (
	"context"
	"slices"
	"time"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// entry is one uplink of a batch: a flash record (rec) or a memory item (it).
type entry struct {
	up  *uplink.Uplink
	rec *buffer.Record
	it  *item
}

// sender holds what the lane's loop keeps between rounds.
type sender struct {
	bo        backoff
	rl        *rateLimiter
	batcher   connector.Batcher // nil: one uplink per request
	max       int
	batch     []buffer.Record // read from flash, not yet sent
	pend      []entry
	ups       []*uplink.Uplink
	errs      []error
	retryWait time.Duration
	// failing: the last attempt failed; the next one probes the endpoint
	// with one uplink rather than a batch.
	failing bool
	// held are uplinks refused with 401/403/404/413 while nothing else
	// got through: one device refused, or the whole connection? The
	// next uplink (another device's, if any) probes; if it is accepted
	// they go to the dead letters, if it is refused too they are kept
	// and the connection fails.
	held []held
}

type held struct {
	e   entry
	err *connector.Error
}

// heldDevice tells whether an uplink of up's device is held.
func (s *sender) heldDevice(up *uplink.Uplink) bool {
	for _, h := range s.held {
		if h.e.up.DevEUI == up.DevEUI {
			return true
		}
	}
	return false
}

func (l *lane) run(ctx context.Context) {
	defer close(l.done)
	s := &sender{bo: backoff{min: l.opts.BackoffMin, max: l.opts.BackoffMax}, rl: newRateLimiter(l.opts.DrainRate, l.opts.Now()), max: 1}
	if b, ok := l.conn.(connector.Batcher); ok && b.MaxBatch() > 1 {
		s.batcher, s.max = b, b.MaxBatch()
	}
	defer func() {
		// Held uplinks are kept: the stop writes them to flash.
		for _, h := range s.held {
			l.putBack(h.e.it)
		}
	}()
	s.pend = make([]entry, 0, s.max)
	s.ups = make([]*uplink.Uplink, 0, s.max)
	s.errs = make([]error, s.max)
	sendCtx := l.sendCtx
	for {
		if s.retryWait > 0 {
			if !sleep(ctx, s.retryWait) {
				return
			}
			s.retryWait = 0
		}
		if ctx.Err() != nil {
			return
		}
		if len(s.batch) == 0 {
			s.batch = l.peek()
		}
		if !l.gather(ctx, s) {
			return
		}
		if len(s.pend) == 0 {
			if s.retryWait > 0 {
				continue
			}
			if !l.waitForWork(ctx) {
				return
			}
			continue
		}
		l.send(sendCtx, s)
		if !l.settle(ctx, s) {
			return
		}
	}
}

// waitForWork idles until an uplink arrives, applying pending acks after
// a moment; false when the lane stops.
func (l *lane) waitForWork(ctx context.Context) bool {
	l.idle()
	// Acks wait a moment for company: at a few uplinks per second one
	// commit per ack would cost a flash page write each.
	var flush <-chan time.Time
	var t *time.Timer
	if l.pendingAcks() {
		t = time.NewTimer(ackFlushDelay)
		flush = t.C
	}
	select {
	case <-ctx.Done():
	case <-l.wake:
	case <-flush:
		l.flushAcks()
	}
	if t != nil {
		t.Stop()
	}
	return ctx.Err() == nil
}

// gather fills s.pend with up to s.max uplinks ready to go, flash first
// (everything on flash is older than memory). An uplink that needs
// something other than sending (a corrupt or expired record) or a wait
// (clock, merge window, rate) ends a non-empty batch, so that what is
// gathered goes first and acks stay in order. False when the lane stops.
func (l *lane) gather(ctx context.Context, s *sender) bool {
	s.pend = s.pend[:0]
	limit := s.max
	probe := len(s.held) > 0
	if s.failing || probe {
		limit = 1
	}
	for len(s.pend) < limit {
		var e entry
		idx := 0 // of e.rec in s.batch
		switch {
		case len(s.batch) > 0:
			if probe {
				idx = l.probeIndex(s)
			}
			e.rec = &s.batch[idx]
			up, err := decodeRecord(e.rec.Data)
			if err != nil {
				if len(s.pend) > 0 {
					return true
				}
				l.setAside(e.rec.Seq, "corrupt_record", err, len(s.held) > 0)
				s.batch = slices.Delete(s.batch, idx, idx+1)
				continue
			}
			e.up = up
		case len(s.pend) > 0 && s.pend[0].rec != nil:
			return true // flash may hold more than was read: peek first
		default:
			if probe {
				e.it = l.takeMemProbe(s)
			} else {
				e.it = l.takeMem()
			}
			if e.it == nil {
				return true
			}
			e.up = e.it.up
		}
		v := l.ready(ctx, s, e)
		switch {
		case v == stop:
			l.putBack(e.it)
			return false
		case v == later, v == expired && len(s.pend) > 0:
			l.putBack(e.it)
			return true
		}
		if e.rec != nil {
			rec := *e.rec
			if idx == 0 {
				s.batch = s.batch[1:]
			} else {
				// A probe from further on: the ones it skipped stay,
				// in order, for the batches after it.
				s.batch = slices.Delete(slices.Clone(s.batch), idx, idx+1)
			}
			e.rec = &rec
		}
		if v == expired {
			l.met.expired(l.name)
			l.finish(e.rec, e.it, len(s.held) > 0)
			continue
		}
		s.pend = append(s.pend, e)
	}
	return true
}

// verdict is what gather does with an uplink.
type verdict int

const (
	sendNow verdict = iota
	later           // not ready: it heads the next batch
	expired         // older than uplinkTimeValidity: dropped, counted
	stop            // the lane stops
)

// ready waits, for the first uplink of a batch, until it may be sent; a
// later one that would have to wait is left for the next batch.
func (l *lane) ready(ctx context.Context, s *sender, e entry) verdict {
	first := len(s.pend) == 0
	up := e.up
	if up.Unsynced {
		fixed, exact := l.opts.Clock.Fix(up)
		if !fixed {
			// No uplink leaves with a wrong time: wait for the clock.
			if first {
				s.retryWait = time.Second
			}
			return later
		}
		if !exact {
			l.met.unfixableTime(l.name)
		}
	}
	if l.validity > 0 && l.opts.Now().Sub(up.ReceivedAt) > l.validity {
		return expired
	}
	if l.opts.Merger != nil {
		if !first {
			if now := l.opts.Now(); now.Before(l.sendAt(up, now)) {
				return later
			}
		}
		if !l.holdForCopies(ctx, up) {
			return stop
		}
		l.opts.Merger.Apply(up)
	}
	if first {
		// At the drain rate, a batch waits for a batch's worth of tokens:
		// taking them as they come made batches of one or two.
		if d := s.rl.until(l.opts.Now(), s.max); d > 0 && !sleep(ctx, d) {
			return stop
		}
	}
	if s.rl.wait(l.opts.Now()) > 0 {
		return later
	}
	return sendNow
}

// send delivers s.pend, one request or a pipelined batch.
func (l *lane) send(ctx context.Context, s *sender) {
	l.mu.Lock()
	late := l.catchingUp
	l.mu.Unlock()
	n := len(s.pend)
	if s.batcher == nil || n == 1 {
		s.errs[0] = l.conn.Send(ctx, s.pend[0].up, late)
	} else {
		s.ups = s.ups[:0]
		for _, e := range s.pend {
			s.ups = append(s.ups, e.up)
		}
		s.batcher.SendBatch(ctx, s.ups, late, s.errs[:n])
	}
	if l.opts.OnResult != nil && l.sendCtx.Err() == nil {
		for i, e := range s.pend {
			l.opts.OnResult(l.id, e.up, late, s.errs[i])
		}
	}
	for i := range s.pend {
		if s.errs[i] == nil {
			l.delivered(late)
		}
	}
}

// settle acts on each outcome of s.pend in order: delivered ones are
// acked, refused ones set aside, failed ones kept (memory ones spilled to
// flash, where the retry finds them in order). A refusal that may be the
// whole connection's (401/403/404/413) is held until another uplink tells:
// accepted, the refused ones go to the dead letters; refused too, the
// connection fails and keeps them. False when the lane stops.
func (l *lane) settle(ctx context.Context, s *sender) bool {
	var keep []*item
	var retry *connector.Error
	stopped := false
	accepted := false
	probe := len(s.held) > 0
	for i := range s.pend {
		if s.errs[i] == nil {
			accepted = true
		}
	}
	var refused []held // in this batch, with no verdict
	for i, e := range s.pend {
		err := s.errs[i]
		s.errs[i] = nil
		ahead := retry != nil || stopped || len(s.held) > 0 || len(refused) > 0
		if err == nil {
			s.bo.reset()
			l.finish(e.rec, e.it, ahead)
			continue
		}
		if ctx.Err() != nil || l.sendCtx.Err() != nil {
			stopped = true
			keep = append(keep, e.it)
			continue
		}
		ce := connector.AsError(err)
		switch {
		case ce.Kind == connector.Reject,
			(ce.Kind == connector.Unauthorized || ce.Kind == connector.Refused) && accepted:
			// Another uplink got through: this refusal is this uplink's.
			l.failed(ce, false)
			l.deadLetter(ctx, e, ce, ahead)
			continue
		case ce.Kind == connector.Unauthorized || ce.Kind == connector.Refused:
			refused = append(refused, held{e, ce})
			continue
		}
		l.failed(ce, true)
		retry = ce
		keep = append(keep, e.it)
	}
	if accepted && len(s.held) > 0 {
		// The probe got through: what was held was refused for itself.
		for _, h := range s.held {
			l.failed(h.err, false)
			l.deadLetter(ctx, h.e, h.err, retry != nil)
		}
		s.held = nil
	}
	if len(refused) > 0 && !accepted {
		if !probe && retry == nil && !stopped && oneDevice(refused) {
			// One device refused and nothing else tried: probe with
			// another uplink before deciding.
			s.held = append(s.held, refused...)
			refused = nil
		} else {
			// Every probe refused: the connection refuses. Keep them all.
			retry = refused[0].err
			l.failed(retry, true)
		}
	}
	if retry != nil || stopped {
		// Held and refused uplinks are kept, older ones first.
		var back []*item
		for _, h := range s.held {
			back = append(back, h.e.it)
		}
		for _, h := range refused {
			back = append(back, h.e.it)
		}
		keep = append(back, keep...)
		s.held = nil
	}
	s.failing = retry != nil
	if retry == nil && !stopped {
		return true
	}
	// Re-read flash: what failed is still there, what went ahead is skipped.
	s.batch = nil
	l.putBack(keep...)
	if stopped {
		return false
	}
	if hasMemory(keep) {
		if err := l.spill(context.WithoutCancel(ctx)); err != nil {
			l.log.Error("cannot write uplinks to the buffer", "err", err)
		}
	}
	s.retryWait = s.bo.next()
	if retry.RetryAfter > 0 {
		// The endpoint said when: the whole connection waits, and then
		// probes with one uplink (failing), no burst.
		s.retryWait = max(s.retryWait, min(retry.RetryAfter, l.opts.MaxRetryAfter))
	}
	return true
}

// oneDevice tells whether the refused uplinks are all one device's.
func oneDevice(hs []held) bool {
	for _, h := range hs[1:] {
		if h.e.up.DevEUI != hs[0].e.up.DevEUI {
			return false
		}
	}
	return true
}

// deadLetter sets a refused uplink aside with the endpoint's answer.
func (l *lane) deadLetter(ctx context.Context, e entry, ce *connector.Error, ahead bool) {
	if e.rec != nil {
		l.setAside(e.rec.Seq, ce.Reason, ce, ahead)
	} else {
		l.rejectMem(ctx, e.it, ce, ahead)
	}
}

// probeIndex is the index in s.batch of the first uplink of a device that
// is not held, or 0 (the next one) when there is none.
func (l *lane) probeIndex(s *sender) int {
	for i := range s.batch {
		up, err := decodeRecord(s.batch[i].Data)
		if err == nil && !s.heldDevice(up) {
			return i
		}
	}
	return 0
}

func hasMemory(items []*item) bool {
	for _, it := range items {
		if it != nil {
			return true
		}
	}
	return false
}
