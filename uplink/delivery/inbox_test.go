package delivery

import (
	"testing"
	"testing/synctest"

	"edgeflow/uplink"
)

// A full inbox holds the offerer until the loop takes what waits, and
// lets it go, with what it could not queue, once the lane has stopped.
func TestInboxFullWaitsForTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newInbox()
		done := make(chan struct{})
		if left := b.offer(make([]uplink.Uplink, offerQueue), done); left != nil {
			t.Fatalf("%d uplinks left over with room for them", len(left))
		}
		var left []uplink.Uplink
		returned := false
		go func() {
			left = b.offer(make([]uplink.Uplink, 3), done)
			returned = true
		}()
		synctest.Wait()
		if returned {
			t.Fatal("an offer to a full inbox returned before the loop took anything")
		}
		m := b.take()
		if len(m.offers) != offerQueue {
			t.Fatalf("took %d offers, want %d", len(m.offers), offerQueue)
		}
		synctest.Wait()
		if !returned || left != nil {
			t.Fatalf("after the take: returned %v, %d left over", returned, len(left))
		}
		b.done(m.offers)
		if got := len(b.take().offers); got != 3 {
			t.Fatalf("took %d offers after the wait, want 3", got)
		}

		// Full again, and the lane stops: the offerer goes, with its uplinks.
		b.offer(make([]uplink.Uplink, offerQueue), done)
		returned = false
		go func() {
			left = b.offer(make([]uplink.Uplink, 2), done)
			returned = true
		}()
		synctest.Wait()
		close(done)
		synctest.Wait()
		if !returned || len(left) != 2 {
			t.Fatalf("after the stop: returned %v, %d left over, want 2", returned, len(left))
		}
	})
}

// One wake carries everything put before it, and the wake stays pending
// until the loop takes it: nothing put is left without a wake.
func TestInboxOneWakeForMany(t *testing.T) {
	b := newInbox()
	ups := make([]uplink.Uplink, 2)
	b.offer(ups, nil)
	b.notify(5, true)
	j := &sendJob{}
	b.answer(j, false)
	b.fire()
	select {
	case <-b.wake:
	default:
		t.Fatal("no wake pending")
	}
	m := b.take()
	if len(m.offers) != 2 || m.offers[0] != &ups[0] || m.onDisk != 5 || !m.late || m.result != j || !m.tick || m.stop {
		t.Fatalf("took %+v", m)
	}
	select {
	case <-b.wake:
		t.Fatal("a second wake for the same mail")
	default:
	}
	b.requestStop()
	<-b.wake
	if m := b.close(); !m.stop {
		t.Fatal("the stop was lost")
	}
	if b.notify(1, false) || b.askStatus(make(chan laneState, 1)) {
		t.Fatal("a closed inbox took a notice or a status request")
	}
}

// While the loop waits for its timer, an accepted answer waits with it; a
// refused one, or one after the timer fired or the loop woke, wakes the
// loop. Nothing put is ever left without a wake to come.
func TestInboxQuietAnswer(t *testing.T) {
	pending := func(b *inbox) bool {
		select {
		case <-b.wake:
			return true
		default:
			return false
		}
	}
	b := newInbox()
	j := &sendJob{}
	b.setQuiet()
	b.answer(j, true)
	if pending(b) {
		t.Fatal("an accepted answer woke a quiet loop")
	}
	b.fire()
	if !pending(b) {
		t.Fatal("the timer did not wake the loop")
	}
	if m := b.take(); m.result != j || !m.tick {
		t.Fatalf("the timer's wake took %+v, want the answer and the tick", m)
	}

	for name, quiet := range map[string]func(){
		"refused":        func() { b.setQuiet() },
		"after the fire": func() { b.setQuiet(); b.fire(); <-b.wake },
		"after a take":   func() { b.setQuiet(); b.take() },
	} {
		quiet()
		b.answer(j, name != "refused")
		if !pending(b) {
			t.Errorf("%s: the answer did not wake the loop", name)
		}
		if m := b.take(); m.result != j {
			t.Errorf("%s: took %+v", name, m)
		}
	}
}
