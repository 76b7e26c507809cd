package semtech

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"
)

// GWMP has no authentication (TTS #1436): anyone who can reach the port can
// claim to be a gateway. These limits are what the agent can do about it:
// accept only some sources and gateway EUIs, and cap what one source may
// send, so that a flood costs a map lookup per datagram and cannot starve
// the real forwarder.

// RateLimit caps the datagrams of one source address: its IP, whatever
// the port (a flood from new source ports is one source), and for IPv6
// its /64, which one host holds whole. The forwarder's two sockets share
// a bucket; the default is far above what both send.
type RateLimit struct {
	// PerSecond is the sustained rate; DefaultRatePerSecond (with
	// DefaultRateBurst) when zero, unlimited when negative.
	PerSecond float64
	// Burst is how many datagrams a quiet source may send at once;
	// 2×PerSecond when zero.
	Burst int
}

// The default rate limit. The reference forwarder's upstream thread sends
// one PUSH_DATA per fetch of the concentrator (all frames received since
// the last fetch, up to 255 on sx1302) and sleeps 10 ms when a fetch finds
// nothing, so its datagram rate is at most its frame rate. A saturated
// 8-channel gateway hears a few tens of frames per second (ALOHA collapses
// long before the radio's limit of roughly 8 channels × 1 frame per 30 ms
// of SF7 airtime ≈ 270/s); add a stat every 30 s. Its pull socket sends a
// PULL_DATA every 5–30 s and a TX_ACK per downlink. The limit is still set
// far above that, at 5,000/s with a burst of 20,000: a load test (or a
// forwarder catching up after a stall) must never lose a valid uplink to
// it, while a flood from one source is cut to a rate the agent handles
// (malformed datagrams cost far less than uplinks). The allow-list, not
// this limit, is what keeps strangers out.
const (
	DefaultRatePerSecond = 5000
	DefaultRateBurst     = 20000
)

// maxRateSources bounds the rate limiter's table. Under a flood of spoofed
// sources it is full of strangers; an entry is then evicted, as a new
// source would otherwise have no bucket.
const maxRateSources = 1024

// Reasons for edgeflow_udp_refused_total.
var refuseReasons = []string{"not_allowed", "gateway_not_allowed", "rate_limited"}

// sourcePolicy decides which datagrams the server looks at. Allow and the
// EUI set are fixed at Start; the rate limiter has its own lock.
type sourcePolicy struct {
	allow   []netip.Prefix // empty: all sources
	euis    map[lorawan.EUI64]struct{}
	limiter *rateLimiter // nil: unlimited
	refused map[string]*metrics.Counter
}

func newSourcePolicy(cfg *Config, set *metrics.Set) *sourcePolicy {
	p := &sourcePolicy{allow: slices.Clone(cfg.Allow), refused: make(map[string]*metrics.Counter)}
	for _, r := range refuseReasons {
		p.refused[r] = set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_udp_refused_total{reason=%q}`, r))
	}
	if len(cfg.GatewayEUIs) > 0 {
		p.euis = make(map[lorawan.EUI64]struct{}, len(cfg.GatewayEUIs))
		for _, e := range cfg.GatewayEUIs {
			p.euis[e] = struct{}{}
		}
	}
	rl := cfg.RateLimit
	if rl.PerSecond == 0 {
		rl = RateLimit{PerSecond: DefaultRatePerSecond, Burst: DefaultRateBurst}
	}
	if rl.PerSecond > 0 {
		if rl.Burst <= 0 {
			rl.Burst = int(2 * rl.PerSecond)
		}
		p.limiter = newRateLimiter(rl.PerSecond, float64(max(1, rl.Burst)), maxRateSources)
	}
	return p
}

// defaultAllow applies when Config.Allow is empty: a server bound to a
// loopback address hears only the local forwarder, so it accepts only
// loopback sources (a forwarder elsewhere cannot reach it anyway, and a
// spoofed source must not either); bound elsewhere it accepts everyone.
func (p *sourcePolicy) defaultAllow(bound netip.Addr) {
	if len(p.allow) == 0 && bound.Unmap().IsLoopback() {
		p.allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
}

// admit returns "" to accept a datagram from src, else the refusal reason.
func (p *sourcePolicy) admit(src *netip.AddrPort, now *time.Time) string {
	if len(p.allow) > 0 && !p.allowed(src.Addr()) {
		return "not_allowed"
	}
	if p.limiter != nil && !p.limiter.allow(src, now) {
		return "rate_limited"
	}
	return ""
}

// allowed tells whether a is in an allowed prefix; the range is by index
// as a Prefix (24 bytes) is copied by a runtime call on 32-bit ARM.
func (p *sourcePolicy) allowed(a netip.Addr) bool {
	for i := range p.allow {
		if p.allow[i].Contains(a) {
			return true
		}
	}
	return false
}

func (p *sourcePolicy) gatewayAllowed(eui lorawan.EUI64) bool {
	if p.euis == nil {
		return true
	}
	_, ok := p.euis[eui]
	return ok
}

// rateLimiter is a token bucket per source, in a bounded table.
type rateLimiter struct {
	rate, burst float64
	max         int

	mu        sync.Mutex // guards buckets, lastPrune, lastKey, last
	buckets   map[netip.Addr]*bucket
	lastPrune time.Time
	// The bucket of the last source, which is nearly always the next
	// (one forwarder): hashing a netip.Addr for the map cost about 200
	// instructions per datagram on 32-bit ARM. nil after any delete.
	lastKey netip.Addr
	last    *bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate, burst float64, max int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, max: max, buckets: make(map[netip.Addr]*bucket)}
}

// sourceKey is the address a source is limited by.
func sourceKey(src *netip.AddrPort) netip.Addr {
	a := src.Addr()
	if a.Is4() {
		return a // the common case, without Unmap's copies
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

func (l *rateLimiter) allow(src *netip.AddrPort, now *time.Time) bool {
	key := sourceKey(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.last
	if b == nil || key != l.lastKey {
		b = l.buckets[key]
	}
	if b == nil {
		if len(l.buckets) >= l.max {
			l.makeRoomLocked(*now)
		}
		b = &bucket{tokens: l.burst, last: *now}
		l.buckets[key] = b
	}
	l.lastKey, l.last = key, b
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
	}
	b.last = *now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// makeRoomLocked first drops the buckets that have refilled (forgetting
// them changes nothing), at most once a second as that is a full scan;
// if the table is still full, one entry goes, whichever the map yields.
func (l *rateLimiter) makeRoomLocked(now time.Time) {
	l.last = nil
	if now.Sub(l.lastPrune) >= time.Second {
		l.lastPrune = now
		full := time.Duration(l.burst / l.rate * float64(time.Second))
		for a, b := range l.buckets {
			if now.Sub(b.last) >= full {
				delete(l.buckets, a)
			}
		}
	}
	for a := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, a)
	}
}

func (l *rateLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
