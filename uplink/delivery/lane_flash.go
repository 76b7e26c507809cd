package delivery

// The lane's side of the buffer: reading batches, acks in batches, dead
// letters, and spilling memory to flash. All of it runs on the lane's loop
// except the ack commits (committer).

import (
	"context"
	"time"

	"edgeflow/buffer"
	"edgeflow/uplink/connector"
)

// peek reads the next batch from flash, skipping what was already acked
// but not yet removed (acks are applied in batches).
func (l *lane) peek() []buffer.Record {
	if l.onDisk <= 0 {
		return nil
	}
	// Acked records stay at the head until their batch is applied, and a
	// batch is applied by the committer: read past both.
	want := l.opts.BatchSize + len(l.acks) + int(l.applying.Load()) + len(l.ackedAhead)
	recs, err := l.store.Peek(l.id, want)
	if err != nil {
		l.log.Error("cannot read the buffer", "err", err)
		return nil
	}
	short := len(recs) < want // the queue ends within what was read
	i := 0
	for i < len(recs) && recs[i].Seq <= l.lastAcked {
		i++
	}
	recs = recs[i:]
	if len(l.ackedAhead) > 0 {
		for seq := range l.ackedAhead {
			if seq <= l.lastAcked {
				delete(l.ackedAhead, seq)
			}
		}
		kept := recs[:0]
		for _, r := range recs {
			if _, done := l.ackedAhead[r.Seq]; !done {
				kept = append(kept, r)
			}
		}
		recs = kept
	}
	// The counts of acked records are exact (the committer lowers
	// applying once its commit returned), so a short read of nothing
	// left proves the queue empty.
	if len(recs) == 0 && short {
		l.onDisk = 0
	}
	return recs
}

// ack marks a record delivered; ahead: an older record of its batch is
// still to be retried (see ackedAhead).
func (l *lane) ack(seq uint64, ahead bool) {
	l.done1(seq, ahead)
	now := l.now()
	if len(l.acks) == 0 {
		l.firstAck = now
	}
	l.acks = append(l.acks, seq)
	l.onDisk--
	// A crash re-sends what was delivered but not yet removed: apply acks
	// every ackBatch records or ackFlushDelay, whichever comes first, so
	// that a busy lane bounds its duplicates as an idle one does.
	if len(l.acks) >= ackBatch || now.sub(l.firstAck) >= ackFlushDelay {
		l.commitAcks()
	}
}

// done1 records that the lane is done with record seq: peek skips it.
func (l *lane) done1(seq uint64, ahead bool) {
	switch {
	case ahead && seq > l.lastAcked:
		if l.ackedAhead == nil {
			l.ackedAhead = make(map[uint64]struct{})
		}
		l.ackedAhead[seq] = struct{}{}
	case seq > l.lastAcked:
		l.lastAcked = seq
	}
}

// ackBatch is how many acks go in one background commit. Each commit of
// deletes costs ~60 KB of flash writes whatever its size, so a small batch
// is expensive while a backlog drains (16: 3.6 KB per uplink; 64: 1.1 KB,
// measured with edgeflow-load --prefill 200000); it also bounds what a
// crash re-sends.
const ackBatch = 64

// ackFlushDelay is how long acks of an idle lane wait to share a commit.
// A crash in this window re-sends those uplinks (at-least-once).
const ackFlushDelay = time.Second

// commitAcks hands the pending acks to the committer: the buffer may hold
// an ack commit back for up to a second (AckWait), which the loop must not
// wait for.
func (l *lane) commitAcks() {
	if len(l.acks) == 0 {
		return
	}
	acks := l.acks
	l.acks = nil
	l.applying.Add(int64(len(acks)))
	l.acksOut <- acks
}

// committer applies the ack batches of the loop until the loop closes
// acksOut. The batches that queued while a commit ran go together in the
// next: one commit, as when a goroutine per batch let the buffer's writer
// group them, so that a backlog draining at the drain rate does not wait
// for a commit per 64 acks.
func (l *lane) committer() {
	defer l.helpers.Done()
	for acks := range l.acksOut {
		n := len(acks)
	more:
		for {
			select {
			case a, ok := <-l.acksOut:
				if !ok {
					break more
				}
				acks = append(acks, a...)
				n += len(a)
			default:
				break more
			}
		}
		l.applyAcks(acks)
		l.applying.Add(-int64(n))
	}
}

// flushAcks applies the pending acks at once (stop, after the loop).
func (l *lane) flushAcks() {
	acks := l.acks
	l.acks = nil
	if len(acks) > 0 {
		l.applyAcks(acks)
	}
}

func (l *lane) applyAcks(acks []uint64) {
	if err := l.store.Ack(l.id, acks); err != nil {
		l.log.Error("cannot remove delivered uplinks from the buffer", "err", err)
	}
}

// setAside moves a record the endpoint refused to the dead letters; ahead
// as for ack.
func (l *lane) setAside(seq uint64, reason string, err error, ahead bool) {
	l.commitAcks()
	if derr := l.store.DeadLetter(l.id, seq, reason); derr != nil {
		l.log.Error("cannot move an uplink to the dead letters", "err", derr)
	}
	l.met.deadLettered(l.name, reason)
	if more, ok := l.refusals.allow(l.opts.Now()); ok {
		// First one in words; then a count per interval, not a line per
		// uplink (a 404 endpoint would fill the syslog).
		if more > 0 {
			l.log.Warn("uplinks refused by the endpoint, kept in the dead letters", "since_last_line", more+1, "reason", reason, "err", err)
		} else {
			l.log.Warn("uplink refused by the endpoint, kept in the dead letters", "reason", reason, "err", err)
		}
	}
	l.done1(seq, ahead)
	l.onDisk--
	l.status.DeadLetters++
}

// rejectMem writes a refused memory uplink to flash and sets it aside, so
// that it is kept and can be replayed.
func (l *lane) rejectMem(it *item, ce *connector.Error, ahead bool) {
	l.dropInflight(it)
	seq := it.seq
	if seq == 0 {
		recs := []buffer.Record{{Time: it.up.ReceivedAt, Data: encodeRecord(it.up)}}
		if err := l.store.Append(context.Background(), l.id, recs); err != nil {
			l.log.Error("cannot keep a refused uplink", "err", err)
			return
		}
		l.onDisk++
		seq = recs[0].Seq
	}
	l.setAside(seq, ce.Reason, ce, ahead)
}

// spill writes the in-flight memory uplinks and the memory queue to flash,
// in order.
func (l *lane) spill(ctx context.Context) error { return l.spillOldest(ctx, 0) }

// spillOldest is spill keeping the newest keep uplinks in memory: what
// goes to flash must be older than what stays, since flash is sent first.
// It runs on the loop (or after it), so nothing moves while it commits;
// uplinks being sent go too, and their answer acks their new records.
func (l *lane) spillOldest(ctx context.Context, keep int) error {
	var items []*item
	for _, it := range l.inflight {
		if it.seq == 0 {
			items = append(items, it)
		}
	}
	var inMem []*item
	if keep > 0 {
		inMem = l.mem.takeOldest(max(l.mem.len()-keep, 0))
	} else {
		inMem = l.mem.drain()
	}
	items = append(items, inMem...)
	if len(items) == 0 {
		return nil
	}
	recs := make([]buffer.Record, len(items))
	for i, it := range items {
		recs[i] = buffer.Record{Time: it.up.ReceivedAt, Data: encodeRecord(it.up)}
	}
	if err := l.store.Append(ctx, l.id, recs); err != nil {
		// Keep them in memory, in order, ahead of what arrived meanwhile.
		l.mem.pushFront(inMem)
		return err
	}
	l.onDisk += len(items)
	l.met.spilled(l.name, len(items))
	for i, it := range items {
		it.seq = recs[i].Seq
	}
	return nil
}

// spillCheckEvery is how soon a failing connection's new uplinks, or a
// memory queue above MaxMemory, go to flash: together, one commit a
// second at most.
const spillCheckEvery = time.Second

// spillDue is when memory uplinks must go to flash next (on-outage mode):
// the oldest one's SpillAfter, or the next check of a failing connection
// or an over-full queue; zero when nothing waits in memory.
func (l *lane) spillDue() instant {
	if l.opts.Persist != PersistOnOutage {
		return 0
	}
	oldest := l.oldestMem()
	if oldest == 0 {
		l.spillCheck = 0
		return 0
	}
	due := earliest(oldest.add(l.opts.SpillAfter), l.spillCheck)
	// The last spill failed: not in a tight loop.
	return max(due, l.spillRetry)
}

// oldestMem is when the oldest memory uplink not on flash arrived; zero
// when there is none.
func (l *lane) oldestMem() instant {
	for _, it := range l.inflight {
		if it.seq == 0 {
			return it.received
		}
	}
	if l.mem.len() > 0 {
		return l.mem.front().received
	}
	return 0
}

// spillIfDue moves memory uplinks to flash when they wait too long, when
// too many wait, or while the connection fails.
func (l *lane) spillIfDue(now instant) {
	l.spillCheck = 0
	oldest := l.oldestMem()
	if oldest == 0 {
		return
	}
	all := l.failing() || now.sub(oldest) >= l.opts.SpillAfter
	// Too many waiting, the endpoint keeping up: only the oldest beyond
	// MaxMemory go, the rest are about to be sent from memory (a burst
	// above MaxMemory no longer sends all of it through flash).
	keep := 0
	if !all {
		if l.mem.len() <= l.opts.MaxMemory {
			return
		}
		keep = l.opts.MaxMemory
	}
	if err := l.spillOldest(context.Background(), keep); err != nil {
		l.log.Error("cannot write uplinks to the buffer", "err", err)
		l.spillRetry = now.add(spillCheckEvery)
	}
}
