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
	return s.UpdateStates(ctx, StateWrite{Bucket: bucket, KV: kv})
}

// StateWrite is one bucket's part of a Batch (Batch.States) or of
// UpdateStates.
type StateWrite struct {
	Bucket string
	// Clear deletes every key of the bucket before KV is applied.
	Clear bool
	// KV are the values to write; a nil value deletes its key.
	KV map[string][]byte
}

// UpdateStates applies the writes, in order, in one transaction: after a
// crash either all of them are on disk or none. It is how a small bucket of
// recent changes is folded into a larger one without a moment where a
// change is in neither. Otherwise as PutStates: like Append, it waits up to
// CommitInterval for company.
//
// A bucket whose keys and values stay under about a quarter page (bbolt
// inlines it) is stored inside the page that lists the buckets, which every
// commit writes anyway: writing it costs no page of its own.
func (s *Store) UpdateStates(ctx context.Context, writes ...StateWrite) error {
	var b Batch
	b.States(writes...)
	return s.commitBatch(ctx, &b, false)
}

// GetStates returns a copy of every value under bucket; an empty map when
// the bucket was never written.
func (s *Store) GetStates(bucket string) (map[string][]byte, error) {
	m, err := s.GetStateBuckets(bucket)
	if err != nil {
		return nil, err
	}
	return m[bucket], nil
}

// GetStateBuckets reads several buckets in one read transaction, so that
// they agree with each other (no commit lands between two of them). Each
// bucket has a map, empty when it was never written.
func (s *Store) GetStateBuckets(buckets ...string) (map[string]map[string][]byte, error) {
	for _, b := range buckets {
		if err := validState(b, nil); err != nil {
			return nil, err
		}
	}
	var out map[string]map[string][]byte
	err := s.view(func(tx *bolt.Tx) error {
		out = make(map[string]map[string][]byte, len(buckets))
		for _, name := range buckets {
			m := map[string][]byte{}
			out[name] = m
			b := tx.Bucket(stateBucket(name))
			if b == nil {
				continue
			}
			if err := b.ForEach(func(k, v []byte) error {
				m[string(k)] = bytes.Clone(v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
