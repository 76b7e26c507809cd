package buffer

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

// wtx collects what one write transaction changed, so the in-memory stats
// and metrics are updated only once it has committed.
type wtx struct {
	s       *Store
	tx      *bolt.Tx
	touched map[string]*delta
	after   []func()

	liveDelta    int64
	written      int64
	appended     int
	acked        int
	deadLettered int
	replayed     int
	dropped      map[string]int
}

// delta is one queue's change; reset means the queue was deleted in this
// transaction and the counts start again from zero.
type delta struct {
	reset            bool
	count, dead      int
	bytes, deadBytes int64
	stored           int64
	oldest           time.Time
	exists           bool
}

func newWtx(s *Store, tx *bolt.Tx) *wtx {
	return &wtx{s: s, tx: tx, touched: make(map[string]*delta), dropped: make(map[string]int)}
}

func (w *wtx) d(q string) *delta {
	d := w.touched[q]
	if d == nil {
		d = &delta{}
		w.touched[q] = d
	}
	return d
}

// records returns the queue's record bucket, creating it if asked. FillPercent
// is not persisted, so it is set on every use: keys only ever grow at the
// end, and full pages halve the file and the pages written per commit.
func (w *wtx) records(q string, create bool) (*bolt.Bucket, error) {
	if !create {
		b := w.tx.Bucket(recBucket(q))
		if b != nil {
			b.FillPercent = 1.0
		}
		return b, nil
	}
	b, err := w.tx.CreateBucketIfNotExists(recBucket(q))
	if err != nil {
		return nil, err
	}
	b.FillPercent = 1.0
	w.d(q)
	return b, nil
}

func (w *wtx) deadLetters(q string, create bool) (*bolt.Bucket, error) {
	if !create {
		return w.tx.Bucket(dlBucket(q)), nil
	}
	b, err := w.tx.CreateBucketIfNotExists(dlBucket(q))
	if err != nil {
		return nil, err
	}
	b.FillPercent = 1.0 // keyed by original seq, which rises too
	w.d(q)
	return b, nil
}

// nextSeqs reserves n store-wide sequence numbers.
func (w *wtx) nextSeqs(n int) (first uint64, err error) {
	mb := w.tx.Bucket(metaBucket)
	seq := mb.Sequence()
	return seq + 1, mb.SetSequence(seq + uint64(n))
}

func (w *wtx) rec(q string, v []byte, sign int) {
	d := w.d(q)
	st := int64(len(v) + elemOverhead)
	d.count += sign
	d.bytes += int64(sign) * recDataLen(v)
	d.stored += int64(sign) * st
	w.liveDelta += int64(sign) * st
}

func (w *wtx) dl(q string, v []byte, sign int) {
	d := w.d(q)
	st := int64(len(v) + elemOverhead)
	d.dead += sign
	d.deadBytes += int64(sign) * dlDataLen(v)
	d.stored += int64(sign) * st
	w.liveDelta += int64(sign) * st
}

// resetQueue records that q's buckets were deleted.
func (w *wtx) resetQueue(q string) {
	d := w.d(q)
	w.s.mu.Lock()
	var base int64
	if st := w.s.queues[q]; st != nil && !d.reset {
		base = st.stored
	}
	w.s.mu.Unlock()
	w.liveDelta -= base + d.stored
	*d = delta{reset: true}
}

// finish reads each touched queue's new head time inside the transaction.
func (w *wtx) finish() {
	for q, d := range w.touched {
		rb := w.tx.Bucket(recBucket(q))
		d.exists = rb != nil || w.tx.Bucket(dlBucket(q)) != nil
		d.oldest = time.Time{}
		if rb != nil {
			if k, v := rb.Cursor().First(); k != nil {
				d.oldest = recordTime(v)
			}
		}
	}
}

// deleteHead removes up to n records from the head of b while keep says
// so, and returns how many and the stored bytes they freed.
func (w *wtx) deleteHead(q string, b *bolt.Bucket, isDL bool, n int, keep func(k, v []byte) bool) (int, int64, error) {
	type kv struct{ k, v []byte }
	var doomed []kv
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(doomed) < n; k, v = c.Next() {
		if keep != nil && !keep(k, v) {
			break
		}
		// Copies: the slices may point into nodes that Delete rewrites.
		doomed = append(doomed, kv{bytes.Clone(k), bytes.Clone(v)})
	}
	var freed int64
	for _, e := range doomed {
		if err := b.Delete(e.k); err != nil {
			return 0, 0, err
		}
		if isDL {
			w.dl(q, e.v, -1)
		} else {
			w.rec(q, e.v, -1)
		}
		freed += int64(len(e.v) + elemOverhead)
	}
	return len(doomed), freed, nil
}

// dropOldest frees at least want stored bytes, or all there is. Dead letters
// go first (they already failed delivery and wait for an operator), then
// records from whichever queue has the oldest head, so one dead connection's
// backlog is trimmed before a healthy one's few records.
func (w *wtx) dropOldest(want int64) (int64, error) {
	var freed int64
	for freed < want {
		q, b, isDL := w.oldestHead()
		if b == nil {
			break
		}
		if !isDL {
			b.FillPercent = 1.0
		}
		var pending int64
		n, f, err := w.deleteHead(q, b, isDL, 64, func(_, v []byte) bool {
			if freed+pending >= want {
				return false
			}
			pending += int64(len(v) + elemOverhead)
			return true
		})
		if err != nil {
			return freed, err
		}
		freed += f
		w.dropped[reasonFull] += n
	}
	return freed, nil
}

func (w *wtx) oldestHead() (queue string, bkt *bolt.Bucket, isDL bool) {
	var best time.Time
	consider := func(prefix string) {
		_ = w.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !bytes.HasPrefix(name, []byte(prefix)) {
				return nil
			}
			k, v := b.Cursor().First()
			if k == nil {
				return nil
			}
			t := recordTime(v)
			if bkt == nil || t.Before(best) {
				queue, bkt, best = string(name[len(prefix):]), b, t
			}
			return nil
		})
	}
	consider("d/")
	if bkt != nil {
		return queue, bkt, true
	}
	consider("r/")
	return queue, bkt, false
}
