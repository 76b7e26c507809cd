package delivery

import (
	"math"
	"time"
)

// instant is a moment on the lane's clock (Options.Now): nanoseconds since
// the lane's epoch, which lies epochBack before its start so that every
// moment the lane meets is after it and zero can mean "none", as the zero
// time.Time did. An instant is compared and copied as one integer; on
// 32-bit ARM each copy of a time.Time (20 bytes) is a call to
// runtime.duffcopy, and the loop made some 200 of them per uplink.
type instant int64

// epochBack puts the epoch a century before the lane starts: reception
// times from a gateway's clock are hours or days old at worst, and a
// century still fits an int64 of nanoseconds three times over.
const epochBack = 100 * 365 * 24 * time.Hour

// at is t on the lane's clock. time.Time.Sub keeps the monotonic reading
// of Options.Now's times, and saturates: a zero time is the far past.
func (l *lane) at(t time.Time) instant { return instant(t.Sub(l.epoch)) }

// now reads the lane's clock.
func (l *lane) now() instant { return l.at(l.opts.Now()) }

func (i instant) add(d time.Duration) instant { return i + instant(d) }

// sub saturates as time.Time.Sub does: a reception time of the far past
// (a zero time) is then older than any validity, not a wrapped negative.
func (i instant) sub(j instant) time.Duration {
	d := i - j
	if (d > i) != (j < 0) { // overflowed
		if j < 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return time.Duration(d)
}
