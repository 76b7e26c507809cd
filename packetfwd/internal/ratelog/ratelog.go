// Package ratelog writes warnings about network peers at a bounded rate:
// the sources of the packet forwarder's tree share it.
package ratelog

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Log writes at most one line per interval per source IP, and reports
// how many it held back, so that a broken or hostile peer cannot flood a
// gateway's small log partition or RAM ring buffer.
type Log struct {
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time
	max    int

	mu    sync.Mutex // guards peers
	peers map[netip.Addr]*peerLog
}

type peerLog struct {
	last       time.Time
	suppressed int
}

// New returns a Log writing to logger at most one line per every per source IP.
func New(logger *slog.Logger, every time.Duration, now func() time.Time) *Log {
	return &Log{logger: logger, every: every, now: now, max: 1024, peers: make(map[netip.Addr]*peerLog)}
}

// Warn logs msg for src unless src already had a line within the interval.
func (r *Log) Warn(src netip.AddrPort, msg string, args ...any) {
	now := r.now()
	r.mu.Lock()
	p := r.peers[src.Addr()]
	if p == nil {
		if len(r.peers) >= r.max {
			r.pruneLocked(now)
		}
		if len(r.peers) >= r.max {
			r.mu.Unlock()
			return // too many talkers at once: stay quiet rather than grow
		}
		p = &peerLog{}
		r.peers[src.Addr()] = p
	} else if now.Sub(p.last) < r.every {
		p.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := p.suppressed
	p.last, p.suppressed = now, 0
	r.mu.Unlock()

	r.logger.Warn(msg, append([]any{"source", src.String(), "suppressed", suppressed}, args...)...)
}

func (r *Log) pruneLocked(now time.Time) {
	for a, p := range r.peers {
		if now.Sub(p.last) >= r.every {
			delete(r.peers, a)
		}
	}
}
