package delivery

import "testing"

// The queue keeps order through pops, put-backs (with and without room
// ahead of the head) and drains.
func TestMemQueueOrder(t *testing.T) {
	var q memQueue
	its := make([]*item, 10)
	for i := range its {
		its[i] = &item{seq: uint64(i)}
	}
	for _, it := range its[:6] {
		q.push(it)
	}
	a, b := q.pop(), q.pop()
	q.pushFront([]*item{a, b}) // room ahead: back where they were
	q.pop()
	q.pushFront([]*item{its[8], its[9], its[0]}) // more than the room
	q.push(its[6])
	want := []uint64{8, 9, 0, 1, 2, 3, 4, 5, 6}
	if q.len() != len(want) || q.front() != its[8] {
		t.Fatalf("len %d front %v", q.len(), q.front().seq)
	}
	for i, it := range q.drain() {
		if it.seq != want[i] {
			t.Fatalf("position %d holds %d, want %d", i, it.seq, want[i])
		}
	}
	if q.len() != 0 {
		t.Fatalf("drained queue holds %d", q.len())
	}
	q.push(its[7])
	if q.pop() != its[7] || q.len() != 0 {
		t.Fatal("queue wrong after a drain")
	}
	for _, it := range its[:5] {
		q.push(it)
	}
	old := q.takeOldest(3)
	if len(old) != 3 || old[0] != its[0] || old[2] != its[2] || q.len() != 2 || q.front() != its[3] {
		t.Fatalf("takeOldest(3) took %d, left %d starting with %v", len(old), q.len(), q.front().seq)
	}
}

// At a steady pace the queue never empties (uplinks wait out their merge
// window while newer ones arrive): the array must not grow with every
// uplink ever queued, nor be copied whole as it does.
func TestMemQueueSteadyPaceStaysSmall(t *testing.T) {
	var q memQueue
	for range 4 {
		q.push(&item{})
	}
	for range 100_000 {
		it := q.pop()
		q.pushFront([]*item{it}) // a put-back: not ready yet
		q.pop()
		q.push(&item{})
	}
	if q.len() != 4 || cap(q.items) > 64 {
		t.Fatalf("4 waiting after 100,000 uplinks: len %d, array of %d", q.len(), cap(q.items))
	}
}
