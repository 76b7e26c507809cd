package semtech

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"
)

func TestUDPRateLimitFloodDoesNotStarveOthers(t *testing.T) {
	ns := newFakeNS(t)
	h := newHarness(t, Config{RateLimit: RateLimit{PerSecond: 10, Burst: 20}, Upstreams: []string{ns.addr()}}, nil)
	waitResolved(t, h.srv)
	flood := dialFrom(t, h, "127.0.0.2") // the forwarder's sockets are on 127.0.0.1
	// The clock stands still: the flooder has its burst and nothing more.
	// 100 datagrams stay well within a loopback socket's buffer.
	for i := range 100 {
		b := mustHex("02000002aa555a0000000000")
		b[2] = byte(i)
		h.send(flood, b)
	}
	// The forwarder's own sockets still get through, and handling is in
	// order, so after these every flood datagram has been seen.
	h.send(h.push, p2)
	h.expect(h.push, mustHex("024ee801"))
	h.nextFrames()
	h.sync()
	if got := h.counter(`edgeflow_udp_refused_total{reason="rate_limited"}`); got != 80 {
		t.Errorf("rate_limited %d, want 80", got)
	}
	// The flooder got its burst of acks, all sent before sync's: a 21st
	// would already be waiting, so reading on finds nothing.
	for i := range 20 {
		if got := readFrom(t, flood); len(got) != 4 || got[3] != 4 {
			t.Fatalf("ack %d: %x", i, got)
		}
	}
	flood.SetReadDeadline(time.Now())
	if n, err := flood.Read(make([]byte, 16)); err == nil {
		t.Errorf("a 21st datagram for the flooder: %d bytes", n)
	}
	// Refused datagrams are not relayed: 20 flood PULL_DATA, P2, sync's.
	waitFor(t, "relayed", func() bool { return h.srv.Upstreams()[0].Sent == 22 })
	// One log line for the flood, not 80.
	if n := countLines(h.logs.String(), "reason=rate_limited"); n != 1 {
		t.Errorf("%d log lines for rate_limited", n)
	}

	// A second later the flooder may send 10 more.
	h.clock.Add(time.Second)
	for range 15 {
		h.send(flood, mustHex("02010002aa555a0000000000"))
	}
	h.sync()
	if got := h.counter(`edgeflow_udp_refused_total{reason="rate_limited"}`); got != 80+5 {
		t.Errorf("rate_limited %d, want 85", got)
	}
}

// dialFrom is h.dial from another loopback address: another source.
func dialFrom(t *testing.T, h *harness, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)}, h.srv.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second)) // only keeps a broken test from hanging
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRateLimitPerAddressNotPort: a flood from ever new source ports is
// one source; IPv6 sources are limited by their /64.
func TestRateLimitPerAddressNotPort(t *testing.T) {
	l := newRateLimiter(10, 20, 1024)
	ok := 0
	for port := range 1000 {
		if l.allow(ptr(netip.AddrPortFrom(netip.MustParseAddr("192.168.1.66"), uint16(10000+port))), &recvTime) {
			ok++
		}
	}
	if ok != 20 || l.len() != 1 {
		t.Errorf("1000 ports of one address: %d accepted, %d buckets; want the burst of 20 and 1", ok, l.len())
	}
	ok = 0
	for i := range 1000 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		if l.allow(ptr(netip.AddrPortFrom(a, 1700)), &recvTime) {
			ok++
		}
	}
	if ok != 20 {
		t.Errorf("1000 addresses of one /64: %d accepted, want 20", ok)
	}
	if !l.allow(ptr(netip.MustParseAddrPort("192.168.1.67:1700")), &recvTime) {
		t.Error("another address was limited")
	}
}

func TestUDPAllowList(t *testing.T) {
	h := newHarness(t, Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}, nil)
	// The harness's sockets (127.0.0.1) are refused: no ack, counted.
	h.send(h.pull, mustHex("02000102aa555a0000000000"))
	waitFor(t, "refusal", func() bool { return h.counter(`edgeflow_udp_refused_total{reason="not_allowed"}`) == 1 })

	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, h.srv.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	h.send(c, mustHex("02000202aa555a0000000000"))
	h.expect(c, mustHex("02000204"))
	if gws := h.srv.Gateways(); len(gws) != 1 || gws[0].PullDataCount != 1 {
		t.Errorf("gateways %+v", gws)
	}
}

func TestUDPGatewayEUIs(t *testing.T) {
	ns := newFakeNS(t)
	h := newHarness(t, Config{GatewayEUIs: []lorawan.EUI64{euiP2, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		Upstreams: []string{ns.addr()}}, nil)
	waitResolved(t, h.srv)
	h.send(h.push, pkt(2, "0001", 0, "aa555a0000000101", p1JSON)) // not listed
	h.send(h.pull, mustHex("02000202aa555a0000000101"))           // not listed
	h.send(h.pull, mustHex("02000305aa555a0000000101"))           // TX_ACK, not listed
	h.send(h.push, p2)
	h.expect(h.push, mustHex("024ee801"))
	h.nextFrames()
	h.sync()
	if got := h.counter(`edgeflow_udp_refused_total{reason="gateway_not_allowed"}`); got != 3 {
		t.Errorf("gateway_not_allowed %d, want 3", got)
	}
	ns.expect(p2) // the refused ones were not relayed
	if gws := h.srv.Gateways(); len(gws) != 2 {
		t.Errorf("gateways %+v", gws)
	}
}

func TestSourcePolicyDefaultAllow(t *testing.T) {
	lan := netip.MustParseAddrPort("192.168.1.20:40000")
	local := netip.MustParseAddrPort("127.0.0.1:40000")
	for _, tc := range []struct {
		bound     string
		lan, lo   string
		allowList []netip.Prefix
	}{
		{"127.0.0.1", "not_allowed", "", nil},
		{"::1", "not_allowed", "", nil},
		{"0.0.0.0", "", "", nil},
		{"192.168.1.1", "", "", nil},
		{"127.0.0.1", "", "not_allowed", []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}},
	} {
		p := newSourcePolicy(&Config{Allow: tc.allowList, RateLimit: RateLimit{PerSecond: -1}}, metrics.NewSet())
		p.defaultAllow(netip.MustParseAddr(tc.bound))
		if got := p.admit(&lan, &recvTime); got != tc.lan {
			t.Errorf("bound %s, allow %v: LAN source %q, want %q", tc.bound, tc.allowList, got, tc.lan)
		}
		if got := p.admit(&local, &recvTime); got != tc.lo {
			t.Errorf("bound %s, allow %v: loopback source %q, want %q", tc.bound, tc.allowList, got, tc.lo)
		}
	}
}

func TestRateLimiterBoundedUnderSpoofing(t *testing.T) {
	l := newRateLimiter(200, 400, 64)
	now := recvTime
	real := netip.MustParseAddrPort("127.0.0.1:1700")
	for i := range 100000 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(i))
		l.allow(&src, &now)
		if i%1000 == 0 {
			now = now.Add(time.Millisecond)
			// The real forwarder, at its worst, is never limited, even
			// when its entry was evicted by the flood.
			if !l.allow(&real, &now) {
				t.Fatalf("real source limited at %d", i)
			}
		}
	}
	if n := l.len(); n > 64 {
		t.Fatalf("%d entries, max 64", n)
	}
}

func TestDefaultRateLimitNeverLimitsFullLoad(t *testing.T) {
	// A forwarder sending a PUSH_DATA every 10 ms for a minute.
	p := newSourcePolicy(&Config{}, metrics.NewSet())
	src := netip.MustParseAddrPort("127.0.0.1:1700")
	now := recvTime
	for i := range 6000 {
		if r := p.admit(&src, &now); r != "" {
			t.Fatalf("datagram %d: %s", i, r)
		}
		now = now.Add(10 * time.Millisecond)
	}
}

func countLines(s, sub string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// ptr is a pointer to a copy of v, for the functions that take their
// AddrPort and time.Time by pointer.
func ptr[T any](v T) *T { return &v }
