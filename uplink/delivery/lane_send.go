package delivery

// The lane's sending: gather the uplinks that are ready, hand them to the
// sender goroutine (several in flight when the connector is a Batcher),
// and settle each outcome when the answers come back to the loop.

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

// sender holds what the lane's loop keeps between batches.
type sender struct {
	bo      backoff
	rl      *rateLimiter
	batcher connector.Batcher // nil: one uplink per request
	max     int
	batch   []buffer.Record // read from flash, not yet sent
	pend    []entry
	ups     []*uplink.Uplink
	errs    []error
	job     sendJob // the batch in flight
	retryAt instant // no attempt before this
	// nextAt is when the uplink after the batch in flight is due (its
	// merge window's end or the fallback after it, see carry); zero: none
	// known. The loop keeps its timer there while the batch is out.
	nextAt instant
	// holdSeq and holdAt are the merge window's end of the flash record
	// at the head (see mergeEnd).
	holdSeq uint64
	holdAt  instant
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

// sendJob is the batch in flight: the loop hands it to the sender
// goroutine and gets it back with errs filled in.
type sendJob struct {
	pend []entry
	ups  []*uplink.Uplink
	errs []error
	late bool
}

func newSender(l *lane) *sender {
	s := &sender{bo: backoff{min: l.opts.BackoffMin, max: l.opts.BackoffMax}, rl: newRateLimiter(l.opts.DrainRate, l.now()), max: 1}
	if b, ok := l.conn.(connector.Batcher); ok && b.MaxBatch() > 1 {
		s.batcher, s.max = b, b.MaxBatch()
	}
	s.pend = make([]entry, 0, s.max)
	s.ups = make([]*uplink.Uplink, 0, s.max)
	s.errs = make([]error, s.max)
	return s
}

// sender is the goroutine that talks to the connector, one batch at a
// time (the connector is called by one goroutine), so that the loop stays
// free for offers, spills and status while a request waits for its answer.
func (l *lane) sender() {
	defer l.helpers.Done()
	for j := range l.sendReq {
		if l.s.batcher == nil || len(j.ups) == 1 {
			j.errs[0] = l.conn.Send(l.sendCtx, j.ups[0], j.late)
		} else {
			l.s.batcher.SendBatch(l.sendCtx, j.ups, j.late, j.errs)
		}
		l.in.answer(j, !slices.ContainsFunc(j.errs, func(err error) bool { return err != nil }))
	}
}

// pump sends what is ready, and tells when the next uplink will be (zero:
// when something arrives, or unknown behind a full batch).
func (l *lane) pump(now instant) instant {
	s := l.s
	if s.retryAt != 0 {
		if now < s.retryAt {
			return s.retryAt
		}
		s.retryAt = 0
	}
	if len(s.batch) == 0 {
		s.batch = l.peek()
	}
	wait := l.gather(now)
	if len(s.pend) == 0 {
		if wait == 0 {
			l.idle()
		}
		return wait
	}
	l.dispatch()
	s.nextAt = wait
	return wait
}

// dispatch hands s.pend to the sender goroutine.
func (l *lane) dispatch() {
	s := l.s
	j := &s.job
	s.ups = s.ups[:0]
	for _, e := range s.pend {
		s.ups = append(s.ups, e.up)
	}
	*j = sendJob{pend: s.pend, ups: s.ups, errs: s.errs[:len(s.pend)], late: l.catchingUp}
	l.sending = j
	l.sendReq <- j
}

// complete takes the answers of the batch in flight.
func (l *lane) complete(j *sendJob, now instant) {
	l.sending = nil
	if l.opts.OnResult != nil && l.sendCtx.Err() == nil {
		for i, e := range j.pend {
			l.opts.OnResult(l.id, e.up, j.late, j.errs[i])
		}
	}
	for i := range j.pend {
		if j.errs[i] == nil {
			l.delivered(j.late, now)
		}
	}
	l.settle()
}

func (l *lane) stopRequested() bool {
	select {
	case <-l.stopCh:
		return true
	default:
		return false
	}
}

func (l *lane) takeMem() *item {
	if l.mem.len() == 0 {
		return nil
	}
	it := l.mem.pop()
	l.inflight = append(l.inflight, it)
	return it
}

// takeMemProbe is takeMem for a probe: the first memory uplink of a device
// that is not held (among the first probeScan), else the oldest.
func (l *lane) takeMemProbe() *item {
	if l.mem.len() == 0 {
		return nil
	}
	it := l.mem.takeFirst(probeScan, func(it *item) bool { return !l.s.heldDevice(it.up) })
	if it == nil {
		it = l.mem.pop()
	}
	l.inflight = append(l.inflight, it)
	return it
}

// probeScan bounds the search for another device's uplink to probe with.
const probeScan = 256

// gather fills s.pend with up to s.max uplinks ready to go, flash first
// (everything on flash is older than memory). An uplink that needs
// something other than sending (a corrupt or expired record) or a wait
// (clock, merge window, rate) ends a non-empty batch, so that what is
// gathered goes first and acks stay in order. When the first uplink must
// wait, gather returns until when.
func (l *lane) gather(now instant) instant {
	s := l.s
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
					return 0
				}
				l.setAside(e.rec.Seq, "corrupt_record", err, len(s.held) > 0)
				s.batch = slices.Delete(s.batch, idx, idx+1)
				continue
			}
			e.up = up
		case len(s.pend) > 0 && s.pend[0].rec != nil:
			return 0 // flash may hold more than was read: peek first
		default:
			if probe {
				e.it = l.takeMemProbe()
			} else {
				e.it = l.takeMem()
			}
			if e.it == nil {
				return 0
			}
			e.up = e.it.up
		}
		v, until := l.ready(s, e, now)
		switch {
		case v == later, v == expired && len(s.pend) > 0:
			l.putBack(e.it)
			return until
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
			l.finish(e, len(s.held) > 0)
			continue
		}
		s.pend = append(s.pend, e)
	}
	return 0
}

// verdict is what gather does with an uplink.
type verdict int

const (
	sendNow verdict = iota
	later           // not ready: it heads the next batch
	expired         // older than uplinkTimeValidity: dropped, counted
)

// ready tells whether an uplink may be sent now, and if it must wait
// (clock, merge window, drain rate), until when: a first uplink of a batch
// for the lane's timer, a later one, left for the next batch, for the
// timer while this batch is out (sender.nextAt).
func (l *lane) ready(s *sender, e entry, now instant) (verdict, instant) {
	first := len(s.pend) == 0
	up := e.up
	if up.Unsynced {
		fixed, exact := l.opts.Clock.Fix(up)
		if !fixed {
			// No uplink leaves with a wrong time: wait for the clock.
			return later, now.add(time.Second)
		}
		if !exact {
			l.met.unfixableTime(l.name)
		}
	}
	if l.validity > 0 && now.sub(l.at(up.ReceivedAt)) > l.validity {
		return expired, 0
	}
	if l.opts.Merger != nil {
		// Held until its merge window ends, so that other antennas' and
		// gateways' copies can join it.
		end := l.mergeEnd(s, e, now)
		latest := end.add(l.batchWait(s))
		early := now.add(mergeSlack) < end
		// A first one may wait for company when the next arrival's
		// wakeup comes before its latest: the uplinks due by then leave
		// with it.
		if early || first && now.add(l.arrivalGap) < latest {
			if early {
				latest = end.add(l.carry())
			}
			return later, latest
		}
		l.opts.Merger.Apply(up)
	}
	if first {
		// At the drain rate, a batch waits for a batch's worth of tokens:
		// taking them as they come made batches of one or two.
		if d := s.rl.until(now, s.max); d > 0 {
			return later, now.add(d)
		}
	}
	if d := s.rl.wait(now); d > 0 {
		return later, now.add(d)
	}
	return sendNow, 0
}

// batchWait is how long after its window the first uplink of a batch
// may wait for company: BatchWait, unless enough are queued behind it to
// fill a batch soon anyway (a pace where waiting adds latency and saves
// no wakeup), and mergeTick at least.
func (l *lane) batchWait(s *sender) time.Duration {
	if l.mem.len() >= s.max-1 {
		return mergeTick
	}
	return max(l.opts.BatchWait, mergeTick)
}

// mergeEnd is sendAt of e, taken once per uplink: sendAt bounds a
// reception time ahead of the clock by now, which must not move on.
func (l *lane) mergeEnd(s *sender, e entry, now instant) instant {
	if e.it != nil {
		if e.it.sendAt == 0 {
			e.it.sendAt = l.sendAt(e.up, now)
		}
		return e.it.sendAt
	}
	if s.holdSeq != e.rec.Seq || s.holdAt == 0 {
		s.holdSeq, s.holdAt = e.rec.Seq, l.sendAt(e.up, now)
	}
	return s.holdAt
}

// settle acts on each outcome of s.pend in order: delivered ones are
// acked, refused ones set aside, failed ones kept (memory ones spilled to
// flash, where the retry finds them in order). A refusal that may be the
// whole connection's (401/403/404/413) is held until another uplink tells:
// accepted, the refused ones go to the dead letters; refused too, the
// connection fails and keeps them.
func (l *lane) settle() {
	s, j := l.s, &l.s.job
	var keep []*item
	var retry *connector.Error
	stopped := false
	accepted := false
	probe := len(s.held) > 0
	for i := range j.pend {
		if j.errs[i] == nil {
			accepted = true
		}
	}
	var refused []held // in this batch, with no verdict
	for i, e := range j.pend {
		err := j.errs[i]
		j.errs[i] = nil
		ahead := retry != nil || stopped || len(s.held) > 0 || len(refused) > 0
		if err == nil {
			s.bo.reset()
			l.finish(e, ahead)
			continue
		}
		if l.stopRequested() || l.sendCtx.Err() != nil {
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
			l.deadLetter(e, ce, ahead)
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
			l.deadLetter(h.e, h.err, retry != nil)
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
		return
	}
	// Re-read flash: what failed is still there, what went ahead is skipped.
	s.batch = nil
	l.putBack(keep...)
	if stopped {
		l.stopping = true
		return
	}
	if hasMemory(keep) && l.opts.Persist == PersistOnOutage {
		if err := l.spill(context.Background()); err != nil {
			l.log.Error("cannot write uplinks to the buffer", "err", err)
		}
	}
	wait := s.bo.next()
	if retry.RetryAfter > 0 {
		// The endpoint said when: the whole connection waits, and then
		// probes with one uplink (failing), no burst.
		wait = max(wait, min(retry.RetryAfter, l.opts.MaxRetryAfter))
	}
	s.retryAt = l.now().add(wait)
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
func (l *lane) deadLetter(e entry, ce *connector.Error, ahead bool) {
	if e.rec != nil {
		l.setAside(e.rec.Seq, ce.Reason, ce, ahead)
	} else {
		l.rejectMem(e.it, ce, ahead)
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
