package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// item is one uplink waiting in memory (on-outage mode). seq is set once it
// has been written to flash; from then on flash is its home.
type item struct {
	up       *uplink.Uplink
	received instant
	sendAt   instant // its merge window's end, once asked (mergeEnd)
	seq      uint64
}

// lane delivers one connection's uplinks in reception order. Everything on
// flash is older than everything in memory, so the lane drains flash first.
//
// One goroutine, run, owns the fields marked "Owned by run": offers,
// append notices, send results, status requests, the timer and the stop
// reach it through its inbox, and its one timer is set to the earliest thing it must do
// unasked (a merge window's end, a retry, a spill, an ack flush). Once run
// has returned, the lane's state is stop's.
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

	in       *inbox        // offers, notices, answers, status requests, the timer, the stop
	stopCh   chan struct{} // closed by requestStop
	stopOnce sync.Once
	done     chan struct{} // closed when run has returned
	started  bool

	sendCtx    context.Context // requests in flight outlive the stop by up to sendGrace
	unhook     func() bool     // forgets the parent context's end (a replaced lane)
	cancelSend context.CancelFunc
	sendReq    chan *sendJob // to the sender goroutine
	acksOut    chan []uint64 // to the ack committer goroutine
	helpers    sync.WaitGroup
	applying   atomic.Int64 // acks handed to the committer, not yet removed

	// after guards the state once run has returned (stop's spill against
	// a Status of a lane whose context ended).
	after sync.Mutex

	// Owned by run.
	s          *sender
	mem        memQueue
	inflight   []*item // memory uplinks being sent, oldest first
	sending    *sendJob
	stopping   bool
	onDisk     int    // records on flash not yet acked
	lastAcked  uint64 // records up to here are delivered or set aside
	ackedAhead map[uint64]struct{}
	acks       []uint64
	firstAck   instant // when the oldest of acks was delivered
	catchingUp bool    // uplinks sent now come from the backlog: Late = 1
	status     Status
	outage     time.Time   // when the connection started failing, zero while it delivers
	refusals   logLimit    // dead-letter WARNs
	spillCheck instant     // next look at an over-full or failing memory queue; zero: none due
	spillRetry instant     // no spill before this: the last one failed
	timer      *time.Timer // fires into in
	timerAt    instant     // what timer is set to; zero: stopped
	// lastDelivery is Status.LastDelivery on the lane's clock; zero: none.
	lastDelivery instant
	// arrivalGap is the smoothed time between wakeups for arriving
	// uplinks (see mergeTick); lastArrival the last of them.
	arrivalGap  time.Duration
	lastArrival instant
	epoch       time.Time // of the lane's instants
}

func newLane(id, name string, conn connector.Connector, store Store, opts *Options, validity time.Duration, log *slog.Logger, met *metrics) *lane {
	l := &lane{id: id, name: name, conn: conn, store: store, opts: opts, validity: validity, log: log.With("connection", name), met: met,
		deliveredCtr: met.deliveredCounters(name),
		in:           newInbox(),
		stopCh:       make(chan struct{}),
		done:         make(chan struct{}),
		sendReq:      make(chan *sendJob),
		acksOut:      make(chan []uint64, 64),
	}
	l.epoch = opts.Now().Add(-epochBack)
	st := store.Stats(id)
	l.onDisk = st.Count
	// Uplinks stored across a restart are late by definition.
	l.catchingUp = st.Count > 0
	l.status = Status{ID: id, Name: name, State: StateOpening}
	return l
}

// offerQueue is how many offers wait for a lane busy with a flash commit
// before Enqueue waits: a second of the reference load's rate is spared
// the UDP path even while a spill of an outage commits.
const offerQueue = 4096

func (l *lane) start(parent context.Context) {
	l.started = true
	// A stop ends at once the sends that only wait (a paused connection,
	// a reconnect schedule); a request in flight gets sendGrace to finish.
	if w, ok := l.conn.(stopper); ok {
		w.setStop(l.stopCh)
	}
	// A send in flight when the lane stops may finish (within sendGrace):
	// cancelling it would resend, after the restart, an uplink the
	// endpoint may already have taken.
	l.sendCtx, l.cancelSend = context.WithCancel(context.WithoutCancel(parent))
	l.unhook = context.AfterFunc(parent, l.requestStop)
	l.s = newSender(l)
	// No pace yet: until arrivals show one, no uplink waits for company
	// (BatchWait), and the fallback after a window is short (carry).
	l.arrivalGap = time.Second
	l.timer = time.AfterFunc(time.Hour, l.in.fire)
	l.timer.Stop()
	l.helpers.Add(2)
	go l.sender()
	go l.committer()
	go l.run()
}

// stopper is a connector wrapper that waits (paused, scheduled) and must
// stop waiting when the lane stops.
type stopper interface{ setStop(<-chan struct{}) }

func (l *lane) requestStop() {
	l.stopOnce.Do(func() {
		close(l.stopCh)
		l.in.requestStop()
	})
}

// offer queues a datagram's live uplinks in memory (on-outage mode). With
// offerQueue waiting, it waits for the loop; once the lane has stopped,
// stop takes what is queued, and what is not is as late as an uplink
// decoded after the stop.
func (l *lane) offer(ups []uplink.Uplink) { l.in.offer(ups, l.done) }

// appended tells the lane that n records were committed to its queue.
func (l *lane) appended(n int) { l.notify(n, false) }

// replayed tells the lane that n old records (dead letters replayed) were
// put in its queue: they go Late.
func (l *lane) replayed(n int) { l.notify(n, true) }

func (l *lane) notify(n int, late bool) {
	if !l.in.notify(n, late) {
		l.after.Lock()
		l.onDisk += n
		l.after.Unlock()
	}
}

// sendGrace bounds how long a stop waits for a send in flight.
const sendGrace = 5 * time.Second

// stop ends delivery and writes every undelivered memory uplink to flash:
// a clean stop loses nothing.
func (l *lane) stop(ctx context.Context) error {
	l.requestStop()
	if l.started {
		grace := time.NewTimer(sendGrace)
		select {
		case <-l.done:
		case <-grace.C:
			l.cancelSend()
			<-l.done
		}
		grace.Stop()
		l.cancelSend()
		l.unhook()
	}
	l.after.Lock()
	defer l.after.Unlock()
	l.takeWaiting()
	l.inflight = nil // run returned them to mem unless they were sent
	l.status.State = StateClosed
	err := l.spill(ctx)
	l.flushAcks()
	l.conn.Close()
	return err
}

// takeWaiting moves what waits in the inbox into the lane, once the loop
// has returned (stop's).
func (l *lane) takeWaiting() { l.deliver(l.in.take(), l.now()) }

// deliver takes what one wake brought, except the batch's answer, the
// timer and the stop, which the loop handles. It tells whether uplinks
// arrived.
func (l *lane) deliver(m mail, now instant) bool {
	for _, up := range m.offers {
		l.mem.push(&item{up: up, received: now})
	}
	if len(m.offers) > 0 {
		if l.opts.Persist == PersistOnOutage && l.spillCheck == 0 && (l.failing() || l.mem.len() > l.opts.MaxMemory) {
			l.spillCheck = now.add(spillCheckEvery)
		}
		l.in.done(m.offers)
	}
	l.onDisk += m.onDisk
	if m.late {
		l.catchingUp = true
	}
	return len(m.offers) > 0 || m.onDisk > 0
}

// run is the lane's loop; see lane.
func (l *lane) run() {
	defer func() {
		// Held uplinks are kept: the stop writes them to flash.
		for _, h := range l.s.held {
			l.putBack(h.e.it)
		}
		l.s.held = nil
		l.timer.Stop()
		close(l.sendReq)
		close(l.acksOut)
		l.helpers.Wait()
		// What came after the last wake: stop takes the offers and
		// notices; status requests get their answer here. Under after:
		// once the inbox is closed, a status request or a notice reads
		// or counts under after instead, and must wait for this.
		l.after.Lock()
		m := l.in.close()
		l.deliver(m, l.now())
		for _, r := range m.status {
			r <- l.state()
		}
		l.after.Unlock()
		close(l.done)
	}()
	var m mail
	for {
		now := l.now()
		if l.deliver(m, now) {
			l.arrival(now)
		}
		if m.result != nil {
			l.complete(m.result, now)
		}
		if m.tick {
			l.timerAt = 0
		}
		for _, r := range m.status {
			r <- l.state() // buffered: never blocks
		}
		l.stopping = l.stopping || m.stop
		if l.stopping && l.sending == nil {
			return
		}
		l.housekeep(now)
		var sendAt instant
		if !l.stopping {
			if l.sending == nil {
				sendAt = l.pump(now)
			} else if sendAt = l.s.nextAt; sendAt <= now {
				l.s.nextAt, sendAt = 0, 0 // passed: the answer will wake the loop
			}
		}
		l.arm(now, l.nextDeadline(sendAt))
		if l.sending != nil && sendAt != 0 && l.timerAt.sub(now) <= quietMax {
			// The next uplink leaves at an arrival's wake or at sendAt,
			// when the timer fires: an accepted answer can wait for
			// either. (If its window ends and its fallback is nearer
			// than the next arrival, it leaves at the fallback instead
			// of at the answer: at most an arrival gap later.)
			l.in.setQuiet()
		}
		<-l.in.wake
		m = l.in.take()
	}
}

// arrival smooths the time between wakeups for arriving uplinks; a pause
// counts as a second, so that one quiet hour does not outweigh the pace.
func (l *lane) arrival(now instant) {
	if l.lastArrival != 0 {
		d := min(now.sub(l.lastArrival), time.Second)
		l.arrivalGap += (d - l.arrivalGap) / 8
	}
	l.lastArrival = now
}

// nextDeadline is the earliest of what the loop must do unasked.
func (l *lane) nextDeadline(sendAt instant) instant {
	d := sendAt
	if len(l.acks) > 0 {
		d = earliest(d, l.firstAck.add(ackFlushDelay))
	}
	return earliest(d, l.spillDue())
}

// earliest is the earlier of two instants, zero being none.
func earliest(a, b instant) instant {
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}

// arm sets the loop's timer to d (zero: none), touching it only when d
// changes: a timer reset is a runtime call, and a fire is a wakeup.
func (l *lane) arm(now, d instant) {
	if d == l.timerAt {
		return
	}
	l.timerAt = d
	if d == 0 {
		l.timer.Stop()
		return
	}
	l.timer.Reset(max(d.sub(now), 0))
}

// housekeep does what is due: an ack flush, a spill.
func (l *lane) housekeep(now instant) {
	if len(l.acks) > 0 && now.sub(l.firstAck) >= ackFlushDelay {
		l.commitAcks()
	}
	if due := l.spillDue(); due != 0 && now >= due {
		l.spillIfDue(now)
	}
}

// putBack returns items taken for sending to the head of the memory
// queue, in their order. One at a time, last first: gather puts back one
// uplink per wakeup, and gathering them in a slice allocated each time.
func (l *lane) putBack(items ...*item) {
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if it == nil {
			continue
		}
		l.dropInflight(it)
		if it.seq != 0 {
			continue // on flash: the flash path retries it
		}
		l.mem.pushFront1(it)
	}
}

func (l *lane) dropInflight(it *item) {
	for i, x := range l.inflight {
		if x == it {
			l.inflight = append(l.inflight[:i], l.inflight[i+1:]...)
			return
		}
	}
}

// finish records the end of one uplink's delivery (sent, or expired).
// ahead says an older uplink of the same batch failed and will be retried,
// so this one's ack must not mark everything before it delivered.
func (l *lane) finish(e entry, ahead bool) {
	var seq uint64
	switch {
	case e.rec != nil:
		seq = e.rec.Seq
	case e.it != nil:
		l.dropInflight(e.it)
		seq = e.it.seq // set when it was written to flash while being sent
	}
	if seq != 0 {
		l.ack(seq, ahead)
	}
}

func (l *lane) idle() {
	if l.mem.len() == 0 && l.onDisk <= 0 {
		l.catchingUp = false
	}
}

// delivered counts one delivery; now is the loop's reading of its clock
// (a clock reading and the time.Time copies of one per uplink add up on
// 32-bit ARM): state turns it into Status.LastDelivery.
func (l *lane) delivered(late bool, now instant) {
	if late {
		l.deliveredCtr[1].Inc()
	} else {
		l.deliveredCtr[0].Inc()
	}
	if !l.outage.IsZero() {
		lasted := now.sub(l.at(l.outage))
		queued := l.mem.len() + l.memInflight() + max(l.onDisk, 0)
		l.outage = time.Time{}
		l.log.Info("connection recovered; the backlog drains now", "outage", lasted.Round(time.Second).String(), "queued", queued)
	}
	l.status.State = StateOpened
	l.status.Reason = ""
	l.lastDelivery = now
	l.status.Delivered++
}

func (l *lane) failed(ce *connector.Error, retry bool) {
	now := l.opts.Now()
	l.met.failed(l.name, ce.Reason)
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

func (l *lane) failing() bool {
	return l.status.State == StateUnreachable || l.status.State == StateAuthenticationFailed
}

// memInflight counts the uplinks being sent that are only in memory.
func (l *lane) memInflight() int {
	n := 0
	for _, it := range l.inflight {
		if it.seq == 0 {
			n++
		}
	}
	return n
}

// laneState is what the loop tells of the status: the buffer's figures
// are read outside it.
type laneState struct {
	Status
	oldestMem time.Time // reception time of the oldest uplink in memory
}

// snapshot is the lane's status, asked of its loop (or read, once the
// loop has returned), with the buffer's figures.
func (l *lane) snapshot() Status {
	var ls laneState
	r := make(chan laneState, 1)
	if l.in.askStatus(r) {
		ls = <-r
	} else {
		l.after.Lock()
		ls = l.state()
		l.after.Unlock()
	}
	s := ls.Status
	st := l.store.Stats(l.id)
	s.BacklogBytes = st.Bytes
	s.Oldest = st.Oldest
	if s.Oldest.IsZero() {
		s.Oldest = ls.oldestMem
	}
	s.DeadLetters = st.DeadLetters
	return s
}

// state is the lane's part of the status.
func (l *lane) state() laneState {
	ls := laneState{Status: l.status}
	if l.lastDelivery != 0 {
		ls.LastDelivery = l.epoch.Add(time.Duration(l.lastDelivery))
	}
	ls.Backlog = l.mem.len() + l.memInflight() + max(l.onDisk, 0)
	if l.mem.len() > 0 {
		ls.oldestMem = l.mem.front().up.ReceivedAt
	}
	return ls
}

// sendAt is when an uplink's merge window ends: MergeWindow after its
// reception, bounded by MergeWindow from now whatever the reception time
// says (a gateway's GPS clock and the agent's may differ).
func (l *lane) sendAt(up *uplink.Uplink, now instant) instant {
	return min(l.at(up.ReceivedAt), now).add(l.opts.MergeWindow)
}

// mergeTick is how late an uplink may leave after its merge window ended
// when no arrival is expected to take it along. Before that, the uplink
// leaves at a wakeup past the end unless the next arrival is due first
// (arrivalGap): at 100 uplinks/s the uplinks of a tick leave together, one
// batch. A wakeup costs more than a send on a gateway's CPU. It is the
// least of Options.BatchWait, which lengthens the wait at a pace whose
// batches would not fill (lane.batchWait).
const mergeTick = 50 * time.Millisecond

// quietMax bounds how long an accepted answer may wait for the loop's
// timer (inbox.setQuiet): a merge window and the fallback after it, at the
// defaults 400 ms and maxCarry. Longer, it wakes the loop itself, so that
// the status and the live view are never much behind.
const quietMax = 2 * time.Second

// mergeSlack: a wakeup this close before a merge window's end takes the
// uplink along. At a pace that divides the window (10/s, 400 ms) the
// window ends as a later datagram arrives, and a millisecond of jitter
// either way decided whether the uplink left with it or a pace later,
// with the next one, as a batch of two: more requests in flight, more
// connections, 100 ms more on its way. Copies of a frame arrive within
// tens of milliseconds of each other; the last 5 ms of a 400 ms window
// hold none in practice.
const mergeSlack = 5 * time.Millisecond

// steadyGap: arrivals at most this far apart (smoothed; 7.5 uplinks/s or
// more) are a steady pace, whose next arrival is due well before maxCarry.
const steadyGap = 133 * time.Millisecond

// maxCarry: at a steady pace, an uplink whose merge window has ended
// waits for the next arrival's wakeup, which takes it along, and the
// timer is only the fallback for when arrivals stop: the window's end
// plus maxCarry. The fallback is long on purpose. Every arrival moves the
// lane's timer later, and the runtime keeps a moved timer's old deadline
// until it passes it: the process then wakes for nothing (and once more a
// millisecond later), and so does the runtime's monitor thread. With a
// fallback 150 ms out, at 10/s that was 0.61 such wakeups of the agent and
// 0.70 + 1.35 of the monitor (futex, nanosleep) per uplink; with 1 s, 0.10
// and 0.10 + 0.96 (strace -f of the amd64 agent): a third fewer thread
// wakeups, on a gateway's CPU the cost of an uplink. The price: the last
// uplinks before traffic stops leave up to 1 s after their window (ten
// gaps at a faster pace, see carryGaps).
const maxCarry = time.Second

// carryGaps: the fallback is this many arrival gaps out (within mergeTick
// and maxCarry), so that the timer's stale deadlines come once in that many
// arrivals at any pace, and the last uplinks of a fast burst do not wait
// a second: 100 ms at 100/s, mergeTick beyond 200/s.
const carryGaps = 10

// carry is how long after its merge window ends an uplink may wait for a
// wakeup that takes it along before the timer does (see maxCarry).
func (l *lane) carry() time.Duration {
	if l.arrivalGap > steadyGap {
		return mergeTick
	}
	return min(max(carryGaps*l.arrivalGap, mergeTick), maxCarry)
}

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
