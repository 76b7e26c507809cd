package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// item is one uplink waiting in memory (on-outage mode). seq is set once it
// has been written to flash; from then on flash is its home.
type item struct {
	up       *uplink.Uplink
	received time.Time
	seq      uint64
	spilling bool // being written to flash right now
	sent     bool // delivered while it was being written to flash
}

// lane delivers one connection's uplinks in reception order. Everything on
// flash is older than everything in memory, so the lane drains flash first.
type lane struct {
	id       string
	name     string
	conn     connector.Connector
	store    Store
	opts     *Options
	validity time.Duration
	log      *slog.Logger
	met      *metrics
	// deliveredCtr counts deliveries, on time [0] and late [1].
	deliveredCtr [2]*vm.Counter

	spillMu sync.Mutex // serialises spills so flash order is memory order

	mu         sync.Mutex // guards everything below
	mem        []*item
	inflight   *item
	onDisk     int    // records on flash not yet acked
	appendGen  uint64 // bumped by every append, to tell a stale empty Peek
	lastAcked  uint64 // records up to here are delivered or set aside
	acks       []uint64
	applying   int  // acks handed to a background commit, not yet removed
	catchingUp bool // uplinks sent now come from the backlog: Late = 1
	status     Status

	wake       chan struct{}
	cancel     context.CancelFunc
	sendCtx    context.Context
	cancelSend context.CancelFunc
	done       chan struct{}
}

func newLane(id, name string, conn connector.Connector, store Store, opts *Options, validity time.Duration, log *slog.Logger, met *metrics) *lane {
	l := &lane{id: id, name: name, conn: conn, store: store, opts: opts, validity: validity, log: log.With("connection", name), met: met,
		wake: make(chan struct{}, 1), done: make(chan struct{}), deliveredCtr: met.deliveredCounters(name)}
	st := store.Stats(id)
	l.onDisk = st.Count
	// Uplinks stored across a restart are late by definition.
	l.catchingUp = st.Count > 0
	l.status = Status{ID: id, Name: name, State: StateOpening}
	return l
}

func (l *lane) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	l.cancel = cancel
	// A send in flight when the lane stops may finish (within sendGrace):
	// cancelling it would resend, after the restart, an uplink the
	// endpoint may already have taken.
	l.sendCtx, l.cancelSend = context.WithCancel(context.WithoutCancel(parent))
	go l.run(ctx)
	if l.opts.Persist == PersistOnOutage {
		go l.spiller(ctx)
	}
}

func (l *lane) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// offer queues a live uplink in memory (on-outage mode).
func (l *lane) offer(up *uplink.Uplink) {
	l.mu.Lock()
	l.mem = append(l.mem, &item{up: up, received: l.opts.Now()})
	l.mu.Unlock()
	l.signal()
}

// appended tells the lane that n records were committed to its queue.
func (l *lane) appended(n int) {
	l.mu.Lock()
	l.onDisk += n
	l.appendGen++
	l.mu.Unlock()
	l.signal()
}

func (l *lane) run(ctx context.Context) {
	defer close(l.done)
	bo := backoff{min: l.opts.BackoffMin, max: l.opts.BackoffMax}
	sendCtx := context.WithValue(l.sendCtx, stopKey{}, ctx.Done())
	rl := newRateLimiter(l.opts.DrainRate, l.opts.Now())
	var batch []buffer.Record
	var retryWait time.Duration
	for {
		if retryWait > 0 {
			if !sleep(ctx, retryWait) {
				return
			}
			retryWait = 0
		}
		if ctx.Err() != nil {
			return
		}
		if len(batch) == 0 {
			batch = l.peek()
		}
		var up *uplink.Uplink
		var rec *buffer.Record
		var it *item
		if len(batch) > 0 {
			rec = &batch[0]
			var err error
			if up, err = decodeRecord(rec.Data); err != nil {
				l.setAside(rec.Seq, "corrupt_record", err)
				batch = batch[1:]
				continue
			}
		} else if it = l.takeMem(); it != nil {
			up = it.up
		} else {
			l.idle()
			// Acks wait a moment for company: at a few uplinks per second
			// one commit per ack would cost a flash page write each.
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
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if up.Unsynced {
			ok, fixed := l.opts.Clock.Fix(up)
			if !ok {
				// No uplink leaves with a wrong time: wait for the clock.
				l.putBack(it)
				retryWait = time.Second
				continue
			}
			if !fixed {
				l.met.unfixableTime(l.name)
			}
		}
		if l.opts.Merger != nil {
			if !l.holdForCopies(ctx, up) {
				l.putBack(it)
				return
			}
			l.opts.Merger.Apply(up)
		}
		if l.validity > 0 && l.opts.Now().Sub(up.ReceivedAt) > l.validity {
			l.met.expired(l.name)
			l.finish(rec, it)
			if rec != nil {
				batch = batch[1:]
			}
			continue
		}
		if d := rl.wait(l.opts.Now()); d > 0 && !sleep(ctx, d) {
			l.putBack(it)
			return
		}
		l.mu.Lock()
		late := l.catchingUp
		l.mu.Unlock()
		err := l.conn.Send(sendCtx, up, late)
		if l.opts.OnResult != nil && l.sendCtx.Err() == nil {
			l.opts.OnResult(l.id, up, late, err)
		}
		if err == nil {
			bo.reset()
			l.delivered(late)
			l.finish(rec, it)
			if rec != nil {
				batch = batch[1:]
			}
			continue
		}
		if ctx.Err() != nil || l.sendCtx.Err() != nil {
			l.putBack(it)
			return
		}
		ce := connector.AsError(err)
		if ce.Kind == connector.Reject {
			l.failed(ce, false)
			if rec != nil {
				l.setAside(rec.Seq, ce.Reason, ce)
				batch = batch[1:]
			} else {
				l.rejectMem(ctx, it, ce)
			}
			continue
		}
		l.failed(ce, true)
		if it != nil {
			// Its first attempt failed: it and all behind it go to flash,
			// where the retry picks them up in order.
			l.putBack(it)
			if err := l.spill(context.WithoutCancel(ctx)); err != nil {
				l.log.Error("cannot write uplinks to the buffer", "err", err)
			}
		}
		retryWait = bo.next()
		if ce.RetryAfter > retryWait {
			retryWait = min(ce.RetryAfter, l.opts.MaxRetryAfter)
		}
	}
}

// peek reads the next batch from flash, skipping what was already acked
// but not yet removed (acks are applied in batches).
func (l *lane) peek() []buffer.Record {
	l.mu.Lock()
	if l.onDisk <= 0 {
		l.mu.Unlock()
		return nil
	}
	gen := l.appendGen
	// Acked records stay at the head until their batch is applied, and a
	// full batch is applied in the background: read past both.
	want := l.opts.BatchSize + len(l.acks) + l.applying
	l.mu.Unlock()
	recs, err := l.store.Peek(l.id, want)
	if err != nil {
		l.log.Error("cannot read the buffer", "err", err)
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	short := len(recs) < want // the queue ends within what was read
	i := 0
	for i < len(recs) && recs[i].Seq <= l.lastAcked {
		i++
	}
	recs = recs[i:]
	// Only a short read proves the queue empty; a full read of acked
	// records means a background delete has not landed yet, and its end
	// signals the lane.
	if len(recs) == 0 && short && gen == l.appendGen {
		l.onDisk = 0
	}
	return recs
}

func (l *lane) takeMem() *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.mem) == 0 {
		return nil
	}
	it := l.mem[0]
	l.mem[0] = nil
	l.mem = l.mem[1:]
	l.inflight = it
	return it
}

// putBack returns an unsent memory item to the head of the memory queue.
func (l *lane) putBack(it *item) {
	if it == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == it {
		l.inflight = nil
	}
	if it.seq != 0 || it.spilling {
		return // already on its way to flash; the flash path retries it
	}
	l.mem = append([]*item{it}, l.mem...)
}

// finish records the end of one uplink's delivery (sent, or expired).
func (l *lane) finish(rec *buffer.Record, it *item) {
	l.mu.Lock()
	var seq uint64
	if rec != nil {
		seq = rec.Seq
	} else if it != nil {
		if l.inflight == it {
			l.inflight = nil
		}
		switch {
		case it.seq != 0:
			seq = it.seq // written to flash while it was being sent
		case it.spilling:
			it.sent = true // the spill acks it once its seq is known
		}
	}
	if seq != 0 {
		l.ackLocked(seq)
	}
	l.mu.Unlock()
}

func (l *lane) ackLocked(seq uint64) {
	if seq > l.lastAcked {
		l.lastAcked = seq
	}
	l.acks = append(l.acks, seq)
	l.onDisk--
	if len(l.acks) >= l.opts.BatchSize {
		acks := l.acks
		l.acks = nil
		l.applying += len(acks)
		go func() {
			l.applyAcks(acks)
			l.mu.Lock()
			l.applying -= len(acks)
			l.mu.Unlock()
			l.signal()
		}()
	}
}

// sendGrace bounds how long a stop waits for a send in flight.
const sendGrace = 5 * time.Second

// ackFlushDelay is how long acks of an idle lane wait to share a commit.
// A crash in this window re-sends those uplinks (at-least-once).
const ackFlushDelay = time.Second

func (l *lane) pendingAcks() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks) > 0
}

func (l *lane) flushAcks() {
	l.mu.Lock()
	acks := l.acks
	l.acks = nil
	l.mu.Unlock()
	if len(acks) > 0 {
		l.applyAcks(acks)
	}
}

func (l *lane) applyAcks(acks []uint64) {
	if err := l.store.Ack(l.id, acks); err != nil {
		l.log.Error("cannot remove delivered uplinks from the buffer", "err", err)
	}
}

// setAside moves a record the endpoint refused to the dead letters.
func (l *lane) setAside(seq uint64, reason string, err error) {
	l.flushAcks()
	if derr := l.store.DeadLetter(l.id, seq, reason); derr != nil {
		l.log.Error("cannot move an uplink to the dead letters", "err", derr)
	}
	l.met.deadLettered(l.name, reason)
	l.log.Warn("uplink refused by the endpoint, kept in the dead letters", "reason", reason, "err", err)
	l.mu.Lock()
	if seq > l.lastAcked {
		l.lastAcked = seq
	}
	l.onDisk--
	l.status.DeadLetters++
	l.mu.Unlock()
}

// rejectMem writes a refused memory uplink to flash and sets it aside, so
// that it is kept and can be replayed.
func (l *lane) rejectMem(ctx context.Context, it *item, ce *connector.Error) {
	l.mu.Lock()
	if l.inflight == it {
		l.inflight = nil
	}
	seq := it.seq
	l.mu.Unlock()
	if seq == 0 {
		recs := []buffer.Record{{Time: it.up.ReceivedAt, Data: encodeRecord(it.up)}}
		if err := l.store.Append(context.WithoutCancel(ctx), l.id, recs); err != nil {
			l.log.Error("cannot keep a refused uplink", "err", err)
			return
		}
		l.mu.Lock()
		l.onDisk++
		l.appendGen++
		l.mu.Unlock()
		seq = recs[0].Seq
	}
	l.setAside(seq, ce.Reason, ce)
}

// spill writes the in-flight memory uplink (if any) and the memory queue to
// flash, in order.
func (l *lane) spill(ctx context.Context) error {
	l.spillMu.Lock()
	defer l.spillMu.Unlock()
	l.mu.Lock()
	var items []*item
	if it := l.inflight; it != nil && it.seq == 0 && !it.spilling {
		items = append(items, it)
	}
	items = append(items, l.mem...)
	l.mem = nil
	for _, it := range items {
		it.spilling = true
	}
	l.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	recs := make([]buffer.Record, len(items))
	for i, it := range items {
		recs[i] = buffer.Record{Time: it.up.ReceivedAt, Data: encodeRecord(it.up)}
	}
	err := l.store.Append(ctx, l.id, recs)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// Keep them in memory, in order, ahead of what arrived meanwhile.
		var back []*item
		for _, it := range items {
			it.spilling = false
			if !it.sent && it != l.inflight {
				back = append(back, it)
			}
		}
		l.mem = append(back, l.mem...)
		return err
	}
	l.onDisk += len(items)
	l.appendGen++
	l.met.spilled(l.name, len(items))
	for i, it := range items {
		it.seq = recs[i].Seq
		it.spilling = false
		if it.sent {
			l.ackLocked(it.seq)
		}
	}
	l.signal()
	return nil
}

// spiller moves memory uplinks to flash when they wait too long, when too
// many wait, or while the connection fails (on-outage mode).
func (l *lane) spiller(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		n := len(l.mem)
		if l.inflight != nil && l.inflight.seq == 0 {
			n++
		}
		due := n > 0 && (l.status.State == StateUnreachable || l.status.State == StateAuthenticationFailed ||
			len(l.mem) > l.opts.MaxMemory ||
			(len(l.mem) > 0 && l.opts.Now().Sub(l.mem[0].received) > l.opts.SpillAfter) ||
			(l.inflight != nil && l.inflight.seq == 0 && l.opts.Now().Sub(l.inflight.received) > l.opts.SpillAfter))
		l.mu.Unlock()
		if due {
			if err := l.spill(context.WithoutCancel(ctx)); err != nil {
				l.log.Error("cannot write uplinks to the buffer", "err", err)
			}
		}
	}
}

// stop ends delivery and writes every undelivered memory uplink to flash:
// a clean stop loses nothing.
func (l *lane) stop(ctx context.Context) error {
	if l.cancel != nil {
		l.cancel()
		grace := time.NewTimer(sendGrace)
		select {
		case <-l.done:
		case <-grace.C:
			l.cancelSend()
			<-l.done
		}
		grace.Stop()
		l.cancelSend()
	}
	l.mu.Lock()
	l.inflight = nil // run returned it to mem (putBack) unless it was sent
	l.status.State = StateClosed
	l.mu.Unlock()
	err := l.spill(ctx)
	l.flushAcks()
	l.conn.Close()
	return err
}

func (l *lane) idle() {
	l.mu.Lock()
	if len(l.mem) == 0 && l.onDisk <= 0 {
		l.catchingUp = false
	}
	l.mu.Unlock()
}

func (l *lane) delivered(late bool) {
	now := l.opts.Now()
	if late {
		l.deliveredCtr[1].Inc()
	} else {
		l.deliveredCtr[0].Inc()
	}
	l.mu.Lock()
	l.status.State = StateOpened
	l.status.LastDelivery = now
	l.status.Delivered++
	l.mu.Unlock()
}

func (l *lane) failed(ce *connector.Error, retry bool) {
	now := l.opts.Now()
	l.met.failed(l.name, ce.Reason)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.status.LastError = ce.Error()
	l.status.LastErrorTime = now
	if !retry {
		return
	}
	l.catchingUp = true
	prev := l.status.State
	if ce.Kind == connector.Unauthorized {
		l.status.State = StateAuthenticationFailed
	} else {
		l.status.State = StateUnreachable
	}
	if prev != l.status.State {
		l.log.Warn("connection failing; uplinks are kept and retried", "state", l.status.State, "err", ce)
	}
}

func (l *lane) snapshot() Status {
	st := l.store.Stats(l.id)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.status
	s.Backlog = len(l.mem) + max(l.onDisk, 0)
	if l.inflight != nil && l.inflight.seq == 0 {
		s.Backlog++
	}
	s.BacklogBytes = st.Bytes
	s.Oldest = st.Oldest
	if s.Oldest.IsZero() && len(l.mem) > 0 {
		s.Oldest = l.mem[0].up.ReceivedAt
	}
	s.DeadLetters = st.DeadLetters
	return s
}

// holdForCopies waits until the uplink is MergeWindow old, so that other
// antennas' and gateways' copies can join it; false when ctx ends. The wait
// is bounded by the window whatever the reception time says (a gateway's
// GPS clock and the agent's may differ).
func (l *lane) holdForCopies(ctx context.Context, up *uplink.Uplink) bool {
	wait := l.opts.MergeWindow - l.opts.Now().Sub(up.ReceivedAt)
	if wait <= 0 {
		return true
	}
	return sleep(ctx, min(wait, l.opts.MergeWindow))
}

// stopKey carries, in a send's context, the lane's stop signal: a send
// that is only waiting (a paused connection, a reconnect schedule) ends at
// once on stop, while a request in flight gets sendGrace to finish.
type stopKey struct{}

func stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stopKey{}).(<-chan struct{})
	return ch // nil blocks forever: no stop signal
}

func sleepUnlessStopping(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stopping(ctx):
		return false
	case <-t.C:
		return true
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var errCorrupt = errors.New("corrupt buffer record")

func decodeRecord(data []byte) (*uplink.Uplink, error) {
	up := new(uplink.Uplink)
	if err := up.UnmarshalBinary(data); err != nil {
		return nil, errors.Join(errCorrupt, err)
	}
	return up, nil
}

func encodeRecord(up *uplink.Uplink) []byte {
	b, _ := up.MarshalBinary()
	return b
}
