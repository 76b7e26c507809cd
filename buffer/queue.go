package buffer

import (
	"context"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Append adds recs at the tail of queue and returns once they are committed
// to disk; their Seq fields are then set. It is Commit of a batch that
// holds only this append, except that it waits up to CommitInterval for
// others: concurrent calls (several lanes spilling to flash) share one
// commit. The buffer being full drops the oldest records, not these.
func (s *Store) Append(ctx context.Context, queue string, recs []Record) error {
	var b Batch
	b.Append(queue, recs)
	return s.commitBatch(ctx, &b, false)
}

// Peek returns up to max records from the head of queue, oldest first,
// copied out so no transaction stays open while the caller sends them.
// A record whose checksum fails is not returned: it is moved to the dead
// letters (reason "checksum mismatch") and counted.
func (s *Store) Peek(queue string, max int) ([]Record, error) {
	if err := validQueue(queue); err != nil {
		return nil, err
	}
	var out []Record
	var bad []uint64
	err := s.view(func(tx *bolt.Tx) error {
		out, bad = out[:0], bad[:0]
		b := tx.Bucket(recBucket(queue))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			if !recordIntact(v) {
				bad = append(bad, r.Seq)
				continue
			}
			out = append(out, r)
		}
		return nil
	})
	for _, seq := range bad {
		s.m.corrupt.Inc()
		s.log.Error("Buffered record fails its checksum; moved to dead letters", "queue", queue, "seq", seq)
		if derr := s.DeadLetter(queue, seq, reasonChecksum); derr != nil && err == nil {
			err = derr
		}
	}
	return out, err
}

// Ack removes delivered records; unknown seqs are ignored, so acking twice
// is harmless. It returns once the removal is committed, usually in the same
// commit as concurrent appends. Until then a crash brings the records back
// and they are sent again: delivery is at-least-once. While appends come
// regularly, an Ack waits for the next one (at most Options.AckWait) to
// share its commit, instead of writing pages of its own.
func (s *Store) Ack(queue string, seqs []uint64) error {
	if err := validQueue(queue); err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	o := &op{lazy: true}
	o.apply = func(w *wtx) error {
		b, _ := w.records(queue, false)
		if b == nil {
			return nil
		}
		for _, seq := range seqs {
			k := seqKey(seq)
			v := b.Get(k)
			if v == nil {
				continue
			}
			w.rec(queue, v, -1) // before Delete: v lives in the page
			if err := b.Delete(k); err != nil {
				return err
			}
			w.acked++
		}
		return nil
	}
	return s.submit(context.Background(), o)
}

// AckThrough removes every record of queue with a seq up to and including
// seq: the sender's "everything so far was delivered". It waits for company
// as Ack does.
func (s *Store) AckThrough(queue string, seq uint64) error {
	if err := validQueue(queue); err != nil {
		return err
	}
	o := &op{lazy: true}
	o.apply = func(w *wtx) error {
		b, _ := w.records(queue, false)
		if b == nil {
			return nil
		}
		for {
			n, _, err := w.deleteHead(queue, b, false, 256, func(k, _ []byte) bool {
				n, _ := keySeq(k)
				return n <= seq
			})
			if err != nil {
				return err
			}
			w.acked += n
			if n < 256 {
				return nil
			}
		}
	}
	return s.submit(context.Background(), o)
}

// Expire drops the records at the head of queue that were received before
// olderThan (the connection's uplinkTimeValidity), counted as
// reason="expired". It stops at the first newer record: queues are in
// reception order except for clock jumps, and the head is what is sent next.
func (s *Store) Expire(queue string, olderThan time.Time) (int, error) {
	if err := validQueue(queue); err != nil {
		return 0, err
	}
	var dropped int
	o := &op{}
	o.apply = func(w *wtx) error {
		dropped = 0
		b, _ := w.records(queue, false)
		if b == nil {
			return nil
		}
		for {
			n, _, err := w.deleteHead(queue, b, false, 256, func(_, v []byte) bool {
				return recordTime(v).Before(olderThan)
			})
			if err != nil {
				return err
			}
			dropped += n
			w.dropped[reasonExpired] += n
			if n < 256 {
				return nil
			}
		}
	}
	err := s.submit(context.Background(), o)
	return dropped, err
}

// DeleteQueue removes a queue with its records and dead letters (its
// connection was deleted); they are counted as reason="queue_deleted".
// Seqs are store-wide, so a queue created again later never reuses one.
func (s *Store) DeleteQueue(queue string) error {
	if err := validQueue(queue); err != nil {
		return err
	}
	o := &op{}
	o.apply = func(w *wtx) error {
		w.s.mu.Lock()
		var n int
		if st := w.s.queues[queue]; st != nil {
			n = st.count + st.dead
		}
		w.s.mu.Unlock()
		if d := w.touched[queue]; d != nil && !d.reset {
			n += d.count + d.dead
		}
		for _, name := range [][]byte{recBucket(queue), dlBucket(queue)} {
			if w.tx.Bucket(name) == nil {
				continue
			}
			if err := w.tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		w.resetQueue(queue)
		w.dropped[reasonDeleted] += n
		return nil
	}
	return s.submit(context.Background(), o)
}

// Stats describes queue from memory; it is cheap enough to call often.
func (s *Store) Stats(queue string) QueueStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.queues[queue]
	if st == nil {
		return QueueStats{}
	}
	return QueueStats{Count: st.count, Bytes: st.bytes, Oldest: st.oldest, DeadLetters: st.dead}
}

// Queues lists the queues that exist, sorted.
func (s *Store) Queues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.queues))
	for q := range s.queues {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}
