package ratelog

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

func TestBounded(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := New(slog.New(slog.DiscardHandler), 10*time.Second, func() time.Time { return now })
	r.max = 2
	for i := range 4 {
		r.Warn(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1), "x")
	}
	if len(r.peers) != 2 {
		t.Fatalf("%d peers tracked", len(r.peers))
	}
	now = now.Add(10 * time.Second) // old entries can now be pruned
	r.Warn(netip.MustParseAddrPort("10.0.0.9:1"), "x")
	if len(r.peers) != 1 {
		t.Fatalf("%d peers after prune", len(r.peers))
	}
}
