package delivery

// The lane's side of the buffer: reading batches, acks in batches, dead
// letters, and spilling memory to flash.

import (
	"context"
	"time"

	"edgeflow/buffer"
	"edgeflow/uplink/connector"
)

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
	want := l.opts.BatchSize + len(l.acks) + l.applying + len(l.ackedAhead)
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
	// Only a short read proves the queue empty; a full read of acked
	// records means a background delete has not landed yet, and its end
	// signals the lane.
	if len(recs) == 0 && short && gen == l.appendGen {
		l.onDisk = 0
	}
	return recs
}

// ackLocked marks a record delivered; ahead: an older record of its batch
// is still to be retried (see ackedAhead).
func (l *lane) ackLocked(seq uint64, ahead bool) {
	l.doneLocked(seq, ahead)
	if len(l.acks) == 0 {
		l.firstAck = l.opts.Now()
	}
	l.acks = append(l.acks, seq)
	l.onDisk--
	// A crash re-sends what was delivered but not yet removed: apply acks
	// every ackBatch records or ackFlushDelay, whichever comes first, so
	// that a busy lane bounds its duplicates as an idle one does.
	if len(l.acks) >= ackBatch || l.opts.Now().Sub(l.firstAck) >= ackFlushDelay {
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

// doneLocked records that the lane is done with record seq: peek skips it.
func (l *lane) doneLocked(seq uint64, ahead bool) {
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

// setAside moves a record the endpoint refused to the dead letters; ahead
// as for ackLocked.
func (l *lane) setAside(seq uint64, reason string, err error, ahead bool) {
	l.flushAcks()
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
	l.mu.Lock()
	l.doneLocked(seq, ahead)
	l.onDisk--
	l.status.DeadLetters++
	l.mu.Unlock()
}

// rejectMem writes a refused memory uplink to flash and sets it aside, so
// that it is kept and can be replayed.
func (l *lane) rejectMem(ctx context.Context, it *item, ce *connector.Error, ahead bool) {
	l.mu.Lock()
	l.dropInflightLocked(it)
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
	l.setAside(seq, ce.Reason, ce, ahead)
}

// spill writes the in-flight memory uplinks and the memory queue to flash,
// in order.
func (l *lane) spill(ctx context.Context) error { return l.spillOldest(ctx, 0) }

// spillOldest is spill keeping the newest keep uplinks in memory: what
// goes to flash must be older than what stays, since flash is sent first.
func (l *lane) spillOldest(ctx context.Context, keep int) error {
	l.spillMu.Lock()
	defer l.spillMu.Unlock()
	l.mu.Lock()
	var items []*item
	for _, it := range l.inflight {
		if it.seq == 0 && !it.spilling {
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
	l.inTransit = len(inMem) // still backlog while on their way to flash
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
	l.inTransit = 0
	if err != nil {
		// Keep them in memory, in order, ahead of what arrived meanwhile.
		var back []*item
		for _, it := range items {
			it.spilling = false
			if !it.sent && !l.isInflightLocked(it) {
				back = append(back, it)
			}
		}
		l.mem.pushFront(back)
		l.signal() // the lane waited for this spill (takeMem)
		return err
	}
	l.onDisk += len(items)
	l.appendGen++
	l.met.spilled(l.name, len(items))
	ahead := false // an older one of these is not delivered yet
	for i, it := range items {
		it.seq = recs[i].Seq
		it.spilling = false
		if it.sent {
			l.ackLocked(it.seq, ahead)
		} else {
			ahead = true
		}
	}
	l.signal()
	return nil
}

// memWaiting tells whether uplinks wait in memory, not on flash.
func (l *lane) memWaiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mem.len() > 0 {
		return true
	}
	for _, it := range l.inflight {
		if it.seq == 0 {
			return true
		}
	}
	return false
}

// spiller moves memory uplinks to flash when they wait too long, when too
// many wait, or while the connection fails (on-outage mode).
func (l *lane) spiller(ctx context.Context) {
	// Once a second is soon enough against SpillAfter (5 s); and only
	// while uplinks wait in memory: an idle gateway's agent does not wake.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		if !l.memWaiting() {
			t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-l.spillWake:
			}
			t.Reset(time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(time.Second)
		l.mu.Lock()
		n := l.mem.len()
		var oldest time.Time // of the memory uplinks not on flash
		for _, it := range l.inflight {
			if it.seq == 0 {
				n++
				if oldest.IsZero() {
					oldest = it.received
				}
			}
		}
		if oldest.IsZero() && l.mem.len() > 0 {
			oldest = l.mem.front().received
		}
		all := n > 0 && (l.status.State == StateUnreachable || l.status.State == StateAuthenticationFailed ||
			l.opts.Now().Sub(oldest) > l.opts.SpillAfter)
		// Too many waiting, the endpoint keeping up: only the oldest
		// beyond MaxMemory go, the rest are about to be sent from memory
		// (a burst above MaxMemory no longer sends all of it through flash).
		keep := 0
		if !all && l.mem.len() > l.opts.MaxMemory {
			keep = l.opts.MaxMemory
		}
		l.mu.Unlock()
		if all || keep > 0 {
			if err := l.spillOldest(context.WithoutCancel(ctx), keep); err != nil {
				l.log.Error("cannot write uplinks to the buffer", "err", err)
			}
		}
	}
}
