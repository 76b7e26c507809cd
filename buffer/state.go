package buffer

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// State is a small key-value store beside the queues, in the same file and
// through the same writer, for what other parts of the agent keep across
// restarts (the decoder's device sessions and frame counters): a gateway
// then has one file on flash, and a state write shares its commit, and its
// fsync, with the appends and acks around it. State is not counted in the
// size budget and never dropped to make room; keep it small.
//
// Each state bucket is a bbolt bucket named "s/" + name, which the queue
// code ignores ("r/" and "d/" are the queues').

// MaxStateName bounds a state bucket's name; MaxStateKey a key's.
const (
	MaxStateName = 64
	MaxStateKey  = 256
)

func stateBucket(name string) []byte { return []byte("s/" + name) }

func validState(bucket string, kv map[string][]byte) error {
	if bucket == "" || len(bucket) > MaxStateName {
		return fmt.Errorf("%w: state bucket %q", ErrBadQueue, bucket)
	}
	for k, v := range kv {
		if k == "" || len(k) > MaxStateKey {
			return fmt.Errorf("%w: state key of %d bytes", ErrBadQueue, len(k))
		}
		if len(v) > MaxRecordSize {
			return fmt.Errorf("%w: state value of %d bytes", ErrRecordTooLarge, len(v))
		}
	}
	return nil
}

// PutStates writes the values under bucket and returns once they are
// committed; a nil value deletes its key. Concurrent calls, appends and
// acks share one commit. As with Append, if ctx ends before the writer
// takes the request nothing is written.
func (s *Store) PutStates(ctx context.Context, bucket string, kv map[string][]byte) error {
	if err := validState(bucket, kv); err != nil {
		return err
	}
	if len(kv) == 0 {
		return nil
	}
	vals := make(map[string][]byte, len(kv)) // the caller may reuse its slices
	for k, v := range kv {
		if v != nil {
			v = bytes.Clone(v)
		}
		vals[k] = v
	}
	o := &op{}
	o.apply = func(w *wtx) error {
		b, err := w.tx.CreateBucketIfNotExists(stateBucket(bucket))
		if err != nil {
			return err
		}
		for k, v := range vals {
			if v == nil {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return s.submit(ctx, o)
}

// GetStates returns a copy of every value under bucket; an empty map when
// the bucket was never written.
func (s *Store) GetStates(bucket string) (map[string][]byte, error) {
	if err := validState(bucket, nil); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(stateBucket(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
