package connector

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// The lazy timer gives every batch its whole timeout, counted from its own
// start, although the timer was armed by an earlier batch; and an idle
// connector's timer stops firing.
func TestDeadlineCountsFromEachBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d deadline
		defer d.close()
		parent := context.Background()
		ctx := d.start(parent, 10*time.Second)
		time.Sleep(6 * time.Second)
		d.stop()
		time.Sleep(2 * time.Second)
		// Armed at 0 for 10 s; this batch starts at 8 s and must last to 18 s.
		if ctx2 := d.start(parent, 10*time.Second); ctx2 != ctx {
			t.Fatal("a live context was made again")
		}
		time.Sleep(9 * time.Second) // 17 s
		if err := ctx.Err(); err != nil {
			t.Fatalf("at 17 s, 9 s into a batch of 10: %v", err)
		}
		time.Sleep(1*time.Second + time.Millisecond) // past 18 s
		synctest.Wait()
		if !timedOutCtx(ctx) {
			t.Fatalf("past the batch's 10 s: %v (cause %v), want a timeout", ctx.Err(), context.Cause(ctx))
		}
		d.stop()
		ctx3 := d.start(parent, 10*time.Second)
		if ctx3 == ctx || ctx3.Err() != nil {
			t.Fatal("after a timeout the next batch did not get a fresh context")
		}
		d.stop()
		// Idle: the timer fires at most once more, then stays disarmed.
		time.Sleep(time.Minute)
		synctest.Wait()
		d.mu.Lock()
		armed := d.armed
		d.mu.Unlock()
		if armed || ctx3.Err() != nil {
			t.Fatalf("idle for a minute: armed %v, context %v", armed, ctx3.Err())
		}
	})
}
