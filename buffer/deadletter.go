package buffer

import (
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// DeadLetter moves record seq of queue to the queue's dead letters, with
// reason and the current time, so the queue can go on past a record the
// endpoint refuses. It returns ErrNotFound if the record is not queued.
func (s *Store) DeadLetter(queue string, seq uint64, reason string) error {
	if err := validQueue(queue); err != nil {
		return err
	}
	o := &op{}
	o.apply = func(w *wtx) error {
		rb, _ := w.records(queue, false)
		var v []byte
		if rb != nil {
			v = rb.Get(seqKey(seq))
		}
		if v == nil {
			o.soft = fmt.Errorf("%w: %s/%d", ErrNotFound, queue, seq)
			return nil
		}
		v = append([]byte(nil), v...)
		db, err := w.deadLetters(queue, true)
		if err != nil {
			return err
		}
		dv := encodeDeadLetter(recordTime(v), s.opts.Now(), reason, v[recHeader:])
		if err := db.Put(seqKey(seq), dv); err != nil {
			return err
		}
		if err := rb.Delete(seqKey(seq)); err != nil {
			return err
		}
		w.rec(queue, v, -1)
		w.dl(queue, dv, +1)
		w.deadLettered++
		return nil
	}
	return s.submit(context.Background(), o)
}

// DeadLetters lists queue's dead letters, oldest first.
func (s *Store) DeadLetters(queue string) ([]DeadLetter, error) {
	if err := validQueue(queue); err != nil {
		return nil, err
	}
	var out []DeadLetter
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(dlBucket(queue))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			d, err := decodeDeadLetter(k, v)
			if err == nil {
				out = append(out, d)
			}
			return err
		})
	})
	return out, err
}

// Replay puts dead letters back at the tail of queue with new seqs and
// their original reception time; nil seqs means all of them. It returns how
// many were replayed; unknown seqs are skipped.
func (s *Store) Replay(queue string, seqs []uint64) (int, error) {
	return s.takeDeadLetters(queue, seqs, true)
}

// DropDeadLetters deletes dead letters of queue (nil seqs: all), counted as
// reason="dead_letter_dropped". It returns how many were deleted.
func (s *Store) DropDeadLetters(queue string, seqs []uint64) (int, error) {
	return s.takeDeadLetters(queue, seqs, false)
}

func (s *Store) takeDeadLetters(queue string, seqs []uint64, replay bool) (int, error) {
	if err := validQueue(queue); err != nil {
		return 0, err
	}
	var n int
	o := &op{}
	o.apply = func(w *wtx) error {
		n = 0
		db, _ := w.deadLetters(queue, false)
		if db == nil {
			return nil
		}
		type kv struct{ k, v []byte }
		var take []kv
		if seqs == nil {
			c := db.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				take = append(take, kv{slices.Clone(k), slices.Clone(v)})
			}
		} else {
			for _, seq := range seqs {
				if v := db.Get(seqKey(seq)); v != nil {
					take = append(take, kv{seqKey(seq), slices.Clone(v)})
				}
			}
		}
		if len(take) == 0 {
			return nil
		}
		var rb *bolt.Bucket
		var first uint64
		if replay {
			var err error
			if rb, err = w.records(queue, true); err != nil {
				return err
			}
			if first, err = w.nextSeqs(len(take)); err != nil {
				return err
			}
		}
		for i, e := range take {
			if replay {
				d, err := decodeDeadLetter(e.k, e.v)
				if err != nil {
					return err
				}
				v := encodeRecord(d.Time, d.Data)
				if err := rb.Put(seqKey(first+uint64(i)), v); err != nil {
					return err
				}
				w.rec(queue, v, +1)
			}
			if err := db.Delete(e.k); err != nil {
				return err
			}
			w.dl(queue, e.v, -1)
		}
		n = len(take)
		if replay {
			w.replayed += n
		} else {
			w.dropped[reasonDeadLetter] += n
		}
		return nil
	}
	o.recs = len(seqs)
	err := s.submit(context.Background(), o)
	return n, err
}
