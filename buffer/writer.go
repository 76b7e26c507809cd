package buffer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// op is one request to the writer goroutine. apply runs inside the group
// transaction; it must check its preconditions before changing anything and
// report a failed precondition in soft, so one bad request does not abort
// the others. An error returned by apply aborts the whole transaction.
type op struct {
	recs      int  // records added, counted towards MaxBatch
	lazy      bool // an ack: worth waiting a little for an append to share its commit
	eager     bool // a whole Batch: committed at once, with what is already pending
	apply     func(w *wtx) error
	exclusive func() error // run alone, between transactions (compaction)
	soft      error
	err       error
	done      chan struct{}
}

// submit hands o to the writer and waits until its transaction committed.
// Once handed over, it waits regardless of ctx: the caller must learn
// whether the write is durable.
func (s *Store) submit(ctx context.Context, o *op) error {
	if s.closed.Load() {
		return ErrClosed
	}
	o.done = make(chan struct{})
	select {
	case s.ops <- o:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-o.done
	return o.err
}

// run is the single writer: it gathers requests until MaxBatch records are
// pending or CommitInterval has passed since the first one, then commits
// them in one transaction. A group that holds only acks waits longer, for
// the next append (see companyWait); one that holds a Commit's batch does
// not wait: it takes what is pending and commits
// (docs/decisions/explicit-commits.md).
func (s *Store) run() {
	defer close(s.done)
	for {
		var first *op
		select {
		case first = <-s.ops:
		case <-s.quit:
			return
		}
		if first.exclusive != nil {
			s.runExclusive(first)
			continue
		}
		batch, n := []*op{first}, first.recs
		var next *op
		if n < s.opts.MaxBatch {
			lazy, eager := first.lazy, first.eager
			wait := s.opts.CommitInterval
			if lazy {
				wait = max(wait, s.companyWait(time.Now()))
			}
			t := time.NewTimer(wait)
		collect:
			for n < s.opts.MaxBatch {
				var o *op
				if eager {
					select { // only what is pending already
					case o = <-s.ops:
					default:
						break collect
					}
				} else {
					select {
					case o = <-s.ops:
					case <-t.C:
						break collect
					case <-s.quit:
						break collect
					}
				}
				if o.exclusive != nil {
					next = o
					break collect
				}
				batch = append(batch, o)
				n += o.recs
				switch {
				case o.eager:
					eager = true
				case lazy && !o.lazy:
					// The acks' company: it waits as if it came first.
					lazy = false
					t.Reset(s.opts.CommitInterval)
				}
			}
			t.Stop()
		}
		s.commit(batch)
		s.noteCompany(batch)
		if next != nil {
			s.runExclusive(next)
		}
		s.maybeCompact()
	}
}

// companyWait is how long a group of acks waits for an append to share its
// commit: until the next append is due, if appends come regularly and it is
// due within AckWait; else 0. An ack alone costs a commit of its own (the
// queue's head leaf, the root, freelist and meta pages: ~16 KiB of flash
// writes) where riding an append's commit costs a page or none. Writer
// goroutine only.
func (s *Store) companyWait(now time.Time) time.Duration {
	if s.opts.AckWait <= 0 || s.lastCompany.IsZero() || s.companyGap <= 0 {
		return 0
	}
	due := s.lastCompany.Add(s.companyGap + s.companyGap/4 + s.opts.CommitInterval)
	w := due.Sub(now)
	if w <= 0 || w > s.opts.AckWait {
		return 0
	}
	return w
}

// noteCompany times the commits that held something other than acks, for
// companyWait: the gap is smoothed over the last few.
func (s *Store) noteCompany(batch []*op) {
	for _, o := range batch {
		if !o.lazy {
			now := time.Now()
			if !s.lastCompany.IsZero() {
				gap := now.Sub(s.lastCompany)
				if s.companyGap <= 0 || gap > 2*s.companyGap || 2*gap < s.companyGap {
					// A pause, or a faster pace, is a new pace, not
					// jitter to average away: acks must not wait for
					// an append that a smoothed old gap says is due.
					s.companyGap = gap
				} else {
					s.companyGap = (3*s.companyGap + gap) / 4
				}
			}
			s.lastCompany = now
			return
		}
	}
}

func (s *Store) runExclusive(o *op) {
	o.err = o.exclusive()
	close(o.done)
}

func (s *Store) commit(batch []*op) {
	s.opts.hit("before-commit")
	w, err := s.runTx(batch)
	want := s.opts.MaxSize / 16
	for tries := 0; err != nil && errors.Is(err, berrors.ErrMaxSizeReached) && tries < 8; tries++ {
		// bbolt's hard limit: the estimate was off. Free pages in a commit
		// of their own, since pages freed by a transaction are reusable only
		// after it. A delete needs a few new pages itself, so when even that
		// does not fit, drop less and work up.
		freed, derr := s.dropForSpace(want)
		if errors.Is(derr, berrors.ErrMaxSizeReached) && want > 4096 {
			want /= 4
			continue
		}
		if derr != nil || freed == 0 {
			err = fmt.Errorf("%w: %v", ErrNoSpace, err)
			break
		}
		w, err = s.runTx(batch)
	}
	s.opts.hit("after-commit")
	if err == nil {
		s.publish(w)
	} else {
		s.log.Error("Buffer commit failed", "error", err.Error(), "requests", len(batch))
	}
	for _, o := range batch {
		o.err = err
		if err == nil {
			o.err = o.soft
		}
		close(o.done)
	}
}

// update runs fn in a write transaction with panics turned into errors, and
// returns the transaction's record of changes.
func (s *Store) update(fn func(w *wtx) error) (w *wtx, err error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return nil, ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.panicked("write", r)
		}
	}()
	pageSize := int64(s.db.Info().PageSize)
	err = s.db.Update(func(tx *bolt.Tx) error {
		w = newWtx(s, tx)
		tx.OnCommit(func() {
			// Every allocated page is a dirty page written by this commit;
			// the meta page comes on top.
			st := tx.Stats()
			w.written = st.GetPageAlloc() + pageSize
		})
		if err := fn(w); err != nil {
			return err
		}
		w.finish()
		return nil
	})
	return w, err
}

func (s *Store) runTx(batch []*op) (*wtx, error) {
	return s.update(func(w *wtx) error {
		for _, o := range batch {
			o.soft = nil
			if err := o.apply(w); err != nil {
				return err
			}
		}
		// Acks in this batch already count; what remains over the budget
		// goes, oldest first.
		if over := s.pagesFor(s.live.Load()+w.liveDelta) - s.dataLimit; over > 0 {
			if _, err := w.dropOldest(s.liveFor(over)); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropForSpace drops at least want stored bytes in a commit of its own.
func (s *Store) dropForSpace(want int64) (int64, error) {
	var freed int64
	w, err := s.update(func(w *wtx) error {
		var err error
		freed, err = w.dropOldest(want)
		return err
	})
	if err == nil {
		s.publish(w)
	}
	return freed, err
}

// publish applies a committed transaction to the in-memory stats and
// metrics, then runs its completion hooks.
func (s *Store) publish(w *wtx) {
	s.mu.Lock()
	for q, d := range w.touched {
		st := s.queues[q]
		if d.reset && st != nil {
			s.live.Add(-st.stored)
			st = nil
		}
		if st == nil {
			st = &queueState{}
		}
		st.count += d.count
		st.bytes += d.bytes
		st.dead += d.dead
		st.deadBytes += d.deadBytes
		st.stored += d.stored
		st.oldest = d.oldest
		s.live.Add(d.stored)
		if d.exists {
			s.queues[q] = st
			s.m.depth(q).Set(float64(st.count))
		} else {
			delete(s.queues, q)
			s.m.set.UnregisterMetric(s.m.depthName(q))
		}
	}
	s.mu.Unlock()
	s.calibrate()

	s.m.commits.Inc()
	s.m.written.AddInt64(w.written)
	s.m.appended.Add(w.appended)
	s.m.acked.Add(w.acked)
	s.m.deadLettered.Add(w.deadLettered)
	s.m.replayed.Add(w.replayed)
	for reason, n := range w.dropped {
		s.m.dropped(reason).Add(n)
	}
	// While an outage outlasts the budget every commit drops; say so once
	// a minute, not once a commit.
	s.fullUnlogged += w.dropped[reasonFull]
	if now := s.opts.Now(); s.fullUnlogged > 0 && now.Sub(s.fullLogged) >= time.Minute {
		s.log.Warn("Buffer full: dropped oldest records", "dropped", s.fullUnlogged,
			"reason", reasonFull, "live_bytes", s.live.Load(), "max_size", s.opts.MaxSize)
		s.fullUnlogged, s.fullLogged = 0, now
	}
	for _, f := range w.after {
		f()
	}
}
