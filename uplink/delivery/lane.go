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

	mu        sync.Mutex // guards everything below
	mem       memQueue
	inflight  []*item // memory uplinks being sent, oldest first
	onDisk    int     // records on flash not yet acked
	inTransit int     // memory uplinks being written to flash by a spill
	appendGen uint64  // bumped by every append, to tell a stale empty Peek
	lastAcked uint64  // records up to here are delivered or set aside
	// ackedAhead are records delivered after an older one of their batch
	// failed: done, but past a record that is not, so lastAcked stays.
	ackedAhead map[uint64]struct{}
	acks       []uint64
	applying   int       // acks handed to a background commit, not yet removed
	firstAck   time.Time // when the oldest of acks was delivered
	catchingUp bool      // uplinks sent now come from the backlog: Late = 1
	status     Status
	outage     time.Time // when the connection started failing, zero while it delivers
	refusals   logLimit  // dead-letter WARNs

	wake       chan struct{}
	spillWake  chan struct{} // an uplink came into memory: the spiller's timer runs again
	cancel     context.CancelFunc
	sendCtx    context.Context
	cancelSend context.CancelFunc
	done       chan struct{}
}

func newLane(id, name string, conn connector.Connector, store Store, opts *Options, validity time.Duration, log *slog.Logger, met *metrics) *lane {
	l := &lane{id: id, name: name, conn: conn, store: store, opts: opts, validity: validity, log: log.With("connection", name), met: met,
		wake: make(chan struct{}, 1), spillWake: make(chan struct{}, 1), done: make(chan struct{}), deliveredCtr: met.deliveredCounters(name)}
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
	// A send that is only waiting (a paused connection, a reconnect
	// schedule) ends at once on stop, while a request in flight gets
	// sendGrace to finish: the waiting ones are told of the stop
	// explicitly.
	if w, ok := l.conn.(stopper); ok {
		w.setStop(ctx.Done())
	}
	// A send in flight when the lane stops may finish (within sendGrace):
	// cancelling it would resend, after the restart, an uplink the
	// endpoint may already have taken.
	l.sendCtx, l.cancelSend = context.WithCancel(context.WithoutCancel(parent))
	go l.run(ctx)
	if l.opts.Persist == PersistOnOutage {
		go l.spiller(ctx)
	}
}

// stopper is a connector wrapper that waits (paused, scheduled) and must
// stop waiting when the lane stops.
type stopper interface{ setStop(<-chan struct{}) }

func (l *lane) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// offer queues a live uplink in memory (on-outage mode).
func (l *lane) offer(up *uplink.Uplink) {
	l.mu.Lock()
	wasEmpty := l.mem.len() == 0
	l.mem.push(&item{up: up, received: l.opts.Now()})
	l.mu.Unlock()
	l.signal()
	if wasEmpty {
		select {
		case l.spillWake <- struct{}{}:
		default:
		}
	}
}

// appended tells the lane that n records were committed to its queue.
func (l *lane) appended(n int) {
	l.mu.Lock()
	l.onDisk += n
	l.appendGen++
	l.mu.Unlock()
	l.signal()
}

func (l *lane) takeMem() *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	// While a spill carries older uplinks to flash, the newer ones in
	// memory wait: sent now they would overtake it, and their acks would
	// mark the spilled records delivered (lastAcked). The spill's end
	// signals the lane.
	if l.mem.len() == 0 || l.inTransit > 0 {
		return nil
	}
	it := l.mem.pop()
	l.inflight = append(l.inflight, it)
	return it
}

// takeMemProbe is takeMem for a probe: the first memory uplink of a device
// that is not held (among the first probeScan), else the oldest.
func (l *lane) takeMemProbe(s *sender) *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mem.len() == 0 || l.inTransit > 0 {
		return nil
	}
	it := l.mem.takeFirst(probeScan, func(it *item) bool { return !s.heldDevice(it.up) })
	if it == nil {
		it = l.mem.pop()
	}
	l.inflight = append(l.inflight, it)
	return it
}

// probeScan bounds the search for another device's uplink to probe with.
const probeScan = 256

// dropInflightLocked forgets it as being sent.
func (l *lane) dropInflightLocked(it *item) {
	for i, x := range l.inflight {
		if x == it {
			l.inflight = append(l.inflight[:i], l.inflight[i+1:]...)
			return
		}
	}
}

func (l *lane) isInflightLocked(it *item) bool {
	for _, x := range l.inflight {
		if x == it {
			return true
		}
	}
	return false
}

// putBack returns unsent memory items, in their order, to the head of the
// memory queue; nil items (flash records) are skipped.
func (l *lane) putBack(items ...*item) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var back []*item
	for _, it := range items {
		if it == nil {
			continue
		}
		l.dropInflightLocked(it)
		if it.seq != 0 || it.spilling {
			continue // already on its way to flash; the flash path retries it
		}
		back = append(back, it)
	}
	if len(back) > 0 {
		l.mem.pushFront(back)
	}
}

// finish records the end of one uplink's delivery (sent, or expired).
// ahead says an older uplink of the same batch failed and will be retried,
// so this one's ack must not mark everything before it delivered.
func (l *lane) finish(rec *buffer.Record, it *item, ahead bool) {
	l.mu.Lock()
	var seq uint64
	if rec != nil {
		seq = rec.Seq
	} else if it != nil {
		l.dropInflightLocked(it)
		switch {
		case it.seq != 0:
			seq = it.seq // written to flash while it was being sent
		case it.spilling:
			it.sent = true // the spill acks it once its seq is known
		}
	}
	if seq != 0 {
		l.ackLocked(seq, ahead)
	}
	l.mu.Unlock()
}

// sendGrace bounds how long a stop waits for a send in flight.
const sendGrace = 5 * time.Second

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
	l.inflight = nil // run returned them to mem (putBack) unless they were sent
	l.status.State = StateClosed
	l.mu.Unlock()
	err := l.spill(ctx)
	l.flushAcks()
	l.conn.Close()
	return err
}

func (l *lane) idle() {
	l.mu.Lock()
	if l.mem.len() == 0 && l.onDisk <= 0 {
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
	recovered := !l.outage.IsZero()
	var lasted time.Duration
	var queued int
	if recovered {
		lasted = now.Sub(l.outage)
		queued = l.mem.len() + l.inTransit + max(l.onDisk, 0)
		l.outage = time.Time{}
	}
	l.status.State = StateOpened
	l.status.Reason = ""
	l.status.LastDelivery = now
	l.status.Delivered++
	l.mu.Unlock()
	if recovered {
		l.log.Info("connection recovered; the backlog drains now", "outage", lasted.Round(time.Second).String(), "queued", queued)
	}
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
	prev, prevReason := l.status.State, l.status.Reason
	if ce.Kind == connector.Unauthorized {
		l.status.State = StateAuthenticationFailed
	} else {
		l.status.State = StateUnreachable
	}
	switch {
	case ce.Kind == connector.Unauthorized, ce.Kind == connector.Refused, ce.Status >= 300 && ce.Status < 400:
		l.status.Reason = ReasonRefused
	case ce.Status != 0:
		l.status.Reason = ReasonErrors
	default:
		l.status.Reason = ReasonNoAnswer
	}
	if l.outage.IsZero() {
		l.outage = now
	}
	if prev != l.status.State || prevReason != l.status.Reason {
		l.log.Warn("connection failing; uplinks are kept and retried", "state", l.status.State, "reason", l.status.Reason, "err", ce)
	}
}

func (l *lane) snapshot() Status {
	st := l.store.Stats(l.id)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.status
	s.Backlog = l.mem.len() + l.inTransit + max(l.onDisk, 0)
	for _, it := range l.inflight {
		if it.seq == 0 {
			s.Backlog++
		}
	}
	s.BacklogBytes = st.Bytes
	s.Oldest = st.Oldest
	if s.Oldest.IsZero() && l.mem.len() > 0 {
		s.Oldest = l.mem.front().up.ReceivedAt
	}
	s.DeadLetters = st.DeadLetters
	return s
}

// holdForCopies waits until the uplink's send time (sendAt), so that
// other antennas' and gateways' copies can join it; false when ctx ends.
func (l *lane) holdForCopies(ctx context.Context, up *uplink.Uplink) bool {
	now := l.opts.Now()
	wait := l.sendAt(up, now).Sub(now)
	if wait <= 0 {
		return true
	}
	return sleep(ctx, wait)
}

// sendAt is when an uplink's merge window ends: MergeWindow after its
// reception (bounded by MergeWindow from now whatever the reception time
// says: a gateway's GPS clock and the agent's may differ), rounded up to a
// mergeTick of the clock. The uplinks whose windows end within one tick
// leave together, one wakeup and full batches instead of one each: a
// wakeup costs more than a send on a gateway's CPU.
func (l *lane) sendAt(up *uplink.Uplink, now time.Time) time.Time {
	end := up.ReceivedAt.Add(l.opts.MergeWindow)
	if limit := now.Add(l.opts.MergeWindow); end.After(limit) {
		end = limit
	}
	if r := time.Duration(end.UnixNano() % int64(mergeTick)); r > 0 {
		end = end.Add(mergeTick - r)
	}
	return end
}

// mergeTick is the granularity of the merge window's end: 50 ms more at
// most on an uplink's way, and at most 20 lane wakeups a second.
const mergeTick = 50 * time.Millisecond

// sleepUnlessStopping sleeps d unless ctx ends or stop is closed.
func sleepUnlessStopping(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stop:
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

// logLimit lets a repeated log line through once per logInterval and
// counts the ones it held back.
type logLimit struct {
	last       time.Time
	suppressed int
}

// logInterval spaces repeated refusal lines.
const logInterval = time.Minute

// allow tells whether to log now, and how many were held back since the
// last line.
func (r *logLimit) allow(now time.Time) (int, bool) {
	if !r.last.IsZero() && now.Sub(r.last) < logInterval {
		r.suppressed++
		return 0, false
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	return n, true
}
