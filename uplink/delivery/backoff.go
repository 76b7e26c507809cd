package delivery

import (
	"math/rand/v2"
	"time"
)

// backoff is full-jitter exponential backoff: the wait after the n-th
// consecutive failure is uniform in [0, min(max, min·2^n)], so that many
// gateways recovering together do not hit the endpoint in step.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	ceil := b.max
	if b.n < 30 {
		if c := b.min << b.n; c > 0 && c < b.max {
			ceil = c
		}
	}
	b.n++
	// Never retry in a tight loop: at least a tenth of the minimum.
	floor := b.min / 10
	return floor + rand.N(ceil-floor+1)
}

func (b *backoff) reset() { b.n = 0 }

// rateLimiter is a token bucket that bounds a lane's sends per second.
type rateLimiter struct {
	rate   float64
	burst  float64
	tokens float64
	last   instant
}

func newRateLimiter(rate float64, now instant) *rateLimiter {
	burst := rate / 10
	if burst < 1 {
		burst = 1
	}
	return &rateLimiter{rate: rate, burst: burst, tokens: burst, last: now}
}

// wait returns how long to wait before the next send is allowed, and takes
// a token when it is zero.
func (r *rateLimiter) wait(now instant) time.Duration {
	r.tokens += now.sub(r.last).Seconds() * r.rate
	r.last = now
	if r.tokens > r.burst {
		r.tokens = r.burst
	}
	if r.tokens >= 1 {
		r.tokens--
		return 0
	}
	return time.Duration((1 - r.tokens) / r.rate * float64(time.Second))
}

// until returns how long until n tokens (at most the burst) are there.
func (r *rateLimiter) until(now instant, n int) time.Duration {
	have := min(r.tokens+now.sub(r.last).Seconds()*r.rate, r.burst)
	want := min(float64(n), r.burst)
	if have >= want {
		return 0
	}
	return time.Duration((want - have) / r.rate * float64(time.Second))
}
