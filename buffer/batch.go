package buffer

import (
	"bytes"
	"context"
	"fmt"
	"slices"
)

// Batch is what one Commit writes in one transaction: appends to any number
// of queues and state writes, applied in the order they were added. After a
// crash either all of it is on disk or none: a datagram's uplinks for every
// connection and the frame counters they moved land together.
//
// The zero value is an empty batch. A Batch is not safe for concurrent use,
// and is used up by Commit.
type Batch struct {
	parts []func(w *wtx) error
	recs  int   // records appended, counted towards MaxBatch
	err   error // first invalid part: Commit writes nothing and returns it
	// appends are the Append calls, for stores kept elsewhere (ForEachAppend).
	appends []batchAppend
}

type batchAppend struct {
	queue string
	recs  []Record
}

// Append adds recs at the tail of queue. Their Seq fields are set once
// Commit returns nil; the caller keeps recs.
func (b *Batch) Append(queue string, recs []Record) {
	if b.err != nil || len(recs) == 0 {
		return
	}
	if err := validQueue(queue); err != nil {
		b.err = err
		return
	}
	vals := make([][]byte, len(recs))
	for i, r := range recs {
		if len(r.Data) > MaxRecordSize {
			b.err = fmt.Errorf("%w: %d bytes", ErrRecordTooLarge, len(r.Data))
			return
		}
		vals[i] = encodeRecord(r.Time, r.Data)
	}
	b.recs += len(recs)
	b.appends = append(b.appends, batchAppend{queue, recs})
	b.parts = append(b.parts, func(w *wtx) error {
		bkt, err := w.records(queue, true)
		if err != nil {
			return err
		}
		first, err := w.nextSeqs(len(vals))
		if err != nil {
			return err
		}
		for i, v := range vals {
			if err := bkt.Put(seqKey(first+uint64(i)), v); err != nil {
				return err
			}
			w.rec(queue, v, +1)
		}
		w.appended += len(vals)
		w.after = append(w.after, func() {
			for i := range recs {
				recs[i].Seq = first + uint64(i)
			}
		})
		return nil
	})
}

// States adds state writes (see StateWrite), applied in order. The values
// are copied: the caller may reuse its slices.
func (b *Batch) States(writes ...StateWrite) {
	for _, sw := range writes {
		if b.err != nil {
			return
		}
		if err := validState(sw.Bucket, sw.KV); err != nil {
			b.err = err
			return
		}
		if len(sw.KV) == 0 && !sw.Clear {
			continue
		}
		b.parts = append(b.parts, stateWrite(sw))
	}
}

// ForEachAppend calls fn with each Append's queue and records, in order, and
// returns the batch's first invalid part. It serves stores that are not a
// Store, such as a test's in memory, which set the records' Seq themselves.
func (b *Batch) ForEachAppend(fn func(queue string, recs []Record)) error {
	if b == nil {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	for _, a := range b.appends {
		fn(a.queue, a.recs)
	}
	return nil
}

// Empty tells whether the batch would write nothing.
func (b *Batch) Empty() bool { return b == nil || len(b.parts) == 0 && b.err == nil }

// stateWrite returns the part that applies sw; sw is valid.
func stateWrite(sw StateWrite) func(w *wtx) error {
	name, wipe := stateBucket(sw.Bucket), sw.Clear
	keys := make([]string, 0, len(sw.KV))
	vals := make(map[string][]byte, len(sw.KV))
	for k, v := range sw.KV {
		if v != nil {
			v = bytes.Clone(v)
		}
		vals[k] = v
		keys = append(keys, k)
	}
	slices.Sort(keys) // bbolt appends in order cheaply
	return func(w *wtx) error {
		if wipe && w.tx.Bucket(name) != nil {
			if err := w.tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if len(keys) == 0 {
			return nil
		}
		bkt, err := w.tx.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if v := vals[k]; v == nil {
				err = bkt.Delete([]byte(k))
			} else {
				err = bkt.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// Commit writes b in one transaction and returns once it is on disk; the
// appended records' Seq fields are then set. b holds all that belongs
// together, so the writer commits it at once, without waiting
// CommitInterval for company; writes that other callers submitted
// meanwhile (another handler's batch, a lane's acks, a commit's worth of
// requests that queued while the previous one ran) share its transaction
// and its fsyncs.
//
// Appends do not fail because the buffer is full: the oldest records are
// dropped instead (counted as edgeflow_buffer_dropped_total{reason="full"}).
// If ctx ends before the writer takes the batch, nothing is written and
// ctx's error is returned; once taken, Commit waits for its commit. An
// invalid part (bad queue or state name, record too large) fails the
// whole batch before anything is written.
func (s *Store) Commit(ctx context.Context, b *Batch) error {
	return s.commitBatch(ctx, b, true)
}

// commitBatch is Commit; a batch that is not eager waits up to
// CommitInterval for others to share its commit, as the one-part writes
// of independent callers do (Append, UpdateStates).
func (s *Store) commitBatch(ctx context.Context, b *Batch, eager bool) error {
	if b == nil {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	if len(b.parts) == 0 {
		return nil
	}
	parts := b.parts
	o := &op{recs: b.recs, eager: eager}
	o.apply = func(w *wtx) error {
		for _, p := range parts {
			if err := p(w); err != nil {
				return err
			}
		}
		return nil
	}
	return s.submit(ctx, o)
}
