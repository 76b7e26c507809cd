package delivery

import (
	"testing"
	"time"
)

// A lane that ran out of tokens waits for a batch's worth, not for one.
func TestRateLimiterUntilBatch(t *testing.T) {
	t0 := instant(time.Hour)
	r := newRateLimiter(1000, t0) // burst 100
	for range 100 {
		if d := r.wait(t0); d != 0 {
			t.Fatalf("burst token refused: wait %v", d)
		}
	}
	if d := r.wait(t0); d != time.Millisecond {
		t.Fatalf("wait for one token %v, want 1ms", d)
	}
	if d := r.until(t0, 16); d != 16*time.Millisecond {
		t.Fatalf("until 16 tokens %v, want 16ms", d)
	}
	if d := r.until(t0, 500); d != 100*time.Millisecond {
		t.Fatalf("until 500 tokens %v, want the burst's 100ms", d)
	}
	if d := r.until(t0.add(16*time.Millisecond), 16); d != 0 {
		t.Fatalf("16 ms later: until %v, want 0", d)
	}
}
