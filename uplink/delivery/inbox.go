package delivery

import (
	"sync"

	"edgeflow/uplink"
)

// inbox is how the lane's other goroutines reach its loop: they put what
// they bring under a mutex and wake the loop through a one-slot channel,
// which the loop receives on alone. A select over one channel per kind
// (offers, notices, answers, status, stop, timer) locked and queued on six
// channels twice per uplink: on an ARM gateway that was 5 % of an uplink's
// instructions. One wake may bring several things; the loop takes them all.
type inbox struct {
	wake chan struct{} // one slot: a wake pending

	mu     sync.Mutex
	offers []*uplink.Uplink
	spare  []*uplink.Uplink // the loop's last batch of offers, for reuse
	// space is closed (and replaced) when the loop takes offers from a
	// full inbox: offerers wait on it.
	space   chan struct{}
	full    bool
	onDisk  int  // records appended or replayed behind the lane's back
	late    bool // some of them are replayed dead letters
	result  *sendJob
	status  []chan laneState
	tick    bool // the timer fired
	stop    bool
	stopped bool // the loop has returned: no one takes what is put here
	// quiet: the loop waits for its timer, which is set, and a batch is
	// in flight; an accepted batch's answer may wait for that wake (or
	// an earlier one) instead of waking the loop itself (see setQuiet).
	quiet bool
}

func newInbox() *inbox {
	return &inbox{wake: make(chan struct{}, 1), space: make(chan struct{})}
}

// signal wakes the loop unless a wake is pending already.
func (b *inbox) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// offer queues live uplinks for the loop. With offerQueue waiting it waits
// for the loop to take them, unless done closes first: then it returns
// what it could not queue (the stop takes what is queued).
func (b *inbox) offer(ups []uplink.Uplink, done <-chan struct{}) []uplink.Uplink {
	for len(ups) > 0 {
		b.mu.Lock()
		for len(b.offers) >= offerQueue {
			b.full = true
			space := b.space
			b.mu.Unlock()
			select {
			case <-space:
			case <-done:
				return ups
			}
			b.mu.Lock()
		}
		n := min(len(ups), offerQueue-len(b.offers))
		for i := range ups[:n] {
			b.offers = append(b.offers, &ups[i])
		}
		b.mu.Unlock()
		b.signal()
		ups = ups[n:]
	}
	return nil
}

// notify adds n records put in the lane's queue; false once the loop has
// returned (the caller counts them itself).
func (b *inbox) notify(n int, late bool) bool {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return false
	}
	b.onDisk += n
	b.late = b.late || late
	b.mu.Unlock()
	b.signal()
	return true
}

// answer hands the loop the batch in flight back, with its outcomes.
// accepted: every uplink of it was; such an answer only settles
// bookkeeping, and while the inbox is quiet it waits for the loop's next
// wake. Anything else the loop must act on now.
func (b *inbox) answer(j *sendJob, accepted bool) {
	b.mu.Lock()
	b.result = j
	quiet := b.quiet && accepted
	b.quiet = false
	b.mu.Unlock()
	if !quiet {
		b.signal()
	}
}

// setQuiet lets an accepted answer wait for the loop's next wake. The loop
// calls it just before it waits, and only with its timer set (or fired
// and not yet taken), so that a wake is sure to come: at a steady pace the
// next arrival's, which takes the answer along with the uplinks it
// brings. One wake of the loop fewer per uplink: a goroutine switch, a
// pass of the loop and a timer update, about 2 % of an uplink's
// instructions on an ARM gateway. What waits is only the answer's
// bookkeeping (counters, the live view, acks of flash records), not a
// delivery: the next send is due at that wake anyway.
func (b *inbox) setQuiet() {
	b.mu.Lock()
	b.quiet = true
	b.mu.Unlock()
}

// askStatus queues a status request; false once the loop has returned.
func (b *inbox) askStatus(r chan laneState) bool {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return false
	}
	b.status = append(b.status, r)
	b.mu.Unlock()
	b.signal()
	return true
}

func (b *inbox) fire() {
	b.mu.Lock()
	b.tick = true
	b.quiet = false // the wake it promised is this one
	b.mu.Unlock()
	b.signal()
}

func (b *inbox) requestStop() {
	b.mu.Lock()
	b.stop = true
	b.mu.Unlock()
	b.signal()
}

// mail is what one wake brought the loop.
type mail struct {
	offers []*uplink.Uplink
	onDisk int
	late   bool
	result *sendJob
	status []chan laneState
	tick   bool
	stop   bool
}

// take empties the inbox. The loop hands offers back with done once it
// has queued them, so that the next take reuses their slice.
func (b *inbox) take() mail {
	b.mu.Lock()
	m := mail{offers: b.offers, onDisk: b.onDisk, late: b.late, result: b.result, status: b.status, tick: b.tick, stop: b.stop}
	b.offers, b.spare = b.spare[:0], nil
	b.onDisk, b.late, b.result, b.status, b.tick, b.quiet = 0, false, nil, nil, false, false
	if b.full {
		b.full = false
		close(b.space)
		b.space = make(chan struct{})
	}
	b.mu.Unlock()
	return m
}

// done returns a taken batch of offers for reuse.
func (b *inbox) done(offers []*uplink.Uplink) {
	clear(offers)
	b.mu.Lock()
	if b.spare == nil {
		b.spare = offers[:0]
	}
	b.mu.Unlock()
}

// close marks the loop returned and gives what is left, for the stop.
func (b *inbox) close() mail {
	m := b.take()
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	return m
}
