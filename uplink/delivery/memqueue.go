package delivery

// memQueue is the lane's memory queue: a slice consumed from a head index,
// so that taking the oldest item and putting just-taken items back (an
// uplink whose merge window has not ended) cost O(1), not a copy of a
// queue that may hold thousands.
type memQueue struct {
	items []*item
	head  int
}

func (q *memQueue) len() int { return len(q.items) - q.head }

func (q *memQueue) push(it *item) {
	if q.head > 0 && (q.head == len(q.items) || len(q.items) == cap(q.items) && q.head >= len(q.items)/2) {
		// Empty, or full with at least half of it taken: move what is
		// left to the start rather than grow. At a steady pace the queue
		// never empties, and the array grew (and was copied whole) with
		// every uplink ever queued. Each item moves at most once per
		// pop of another, so a push stays O(1) amortised.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, it)
}

// front is the oldest item; the queue must not be empty.
func (q *memQueue) front() *item { return q.items[q.head] }

func (q *memQueue) pop() *item {
	it := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	return it
}

// pushFront1 puts one item ahead of the queue: the put-back of an uplink
// just taken, for which there is room ahead of the head.
func (q *memQueue) pushFront1(it *item) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = it
		return
	}
	q.pushFront([]*item{it})
}

// pushFront puts items, in their order, ahead of the queue.
func (q *memQueue) pushFront(items []*item) {
	if len(items) <= q.head {
		q.head -= len(items)
		copy(q.items[q.head:], items)
		return
	}
	q.items = append(append(make([]*item, 0, len(items)+q.len()), items...), q.items[q.head:]...)
	q.head = 0
}

// takeOldest removes and returns the n oldest items.
func (q *memQueue) takeOldest(n int) []*item {
	out := make([]*item, n)
	copy(out, q.items[q.head:q.head+n])
	clear(q.items[q.head : q.head+n])
	q.head += n
	return out
}

// drain removes and returns every item, oldest first.
func (q *memQueue) drain() []*item {
	out := q.items[q.head:]
	q.items, q.head = nil, 0
	return out
}

// takeFirst removes and returns the first of the n oldest items for which
// ok is true, or nil; the others keep their order.
func (q *memQueue) takeFirst(n int, ok func(*item) bool) *item {
	end := min(q.head+n, len(q.items))
	for i := q.head; i < end; i++ {
		if it := q.items[i]; ok(it) {
			copy(q.items[q.head+1:i+1], q.items[q.head:i])
			q.items[q.head] = nil
			q.head++
			return it
		}
	}
	return nil
}
