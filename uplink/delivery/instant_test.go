package delivery

import (
	"math"
	"testing"
	"time"
)

// Differences saturate like time.Time.Sub: an uplink with a zero reception
// time is older than any validity (it expires), not newer than now.
func TestInstantSubSaturates(t *testing.T) {
	now := instant(time.Hour)
	for _, c := range []struct {
		i, j instant
		want time.Duration
	}{
		{now, now - instant(time.Second), time.Second},
		{now, math.MinInt64, math.MaxInt64},
		{math.MinInt64, now, math.MinInt64},
		{now, 0, time.Hour},
	} {
		if got := c.i.sub(c.j); got != c.want {
			t.Errorf("%d.sub(%d) = %d, want %d", c.i, c.j, got, c.want)
		}
	}
	var l lane
	l.epoch = time.Now().Add(-epochBack)
	if d := now.sub(l.at(time.Time{})); d != math.MaxInt64 {
		t.Errorf("now minus a zero reception time: %v, want the longest duration", d)
	}
}
