package relay

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
)

// The relay through the UDP server, end to end, is tested in
// packetfwd/semtech (relay_test.go).

// discardGateways sends downlinks to the discard port, where every
// gateway's last PULL_DATA came from.
type discardGateways struct{ sent atomic.Int64 }

func (*discardGateways) DownlinkPath(lorawan.EUI64) (netip.AddrPort, uint8, bool) {
	return netip.MustParseAddrPort("127.0.0.1:9"), gwmp.Version2, true
}

func (g *discardGateways) SendTo(netip.AddrPort, []byte) error { g.sent.Add(1); return nil }

func TestCheckUpstream(t *testing.T) {
	for _, ok := range []string{"localhost:1700", "[::1]:1700", "10.0.0.1:1700", "eu1.cloud.thethings.network:1700", "host:1780/1782", "[::1]:1/2"} {
		if err := CheckUpstream(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "nope", ":1700", "host:0", "host:http", "host:70000", "::1:1700", "host:1700/", "host:/1700", "host:1700/0", "host:1/2/3", "host:1700/70000"} {
		if err := CheckUpstream(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzUpstreamReply feeds arbitrary datagrams to the relay as if from an
// upstream network server: acks are counted, PULL_RESPs go to the gateway
// (here the discard port, as discardGateways says) and their token is remembered, anything else is
// dropped; nothing panics. Seeds: testdata/fuzz/FuzzUpstreamReply.
func FuzzUpstreamReply(f *testing.F) {
	set := metrics.NewSet()
	var hooked atomic.Int64
	upstreamAddr := netip.MustParseAddrPort("127.0.0.1:9")
	r := New(Config{OnDownlink: func(lorawan.EUI64, gwmp.TXPK) { hooked.Add(1) }}, &discardGateways{}, set)
	if err := r.Set([]string{upstreamAddr.String()}); err != nil {
		f.Fatal(err)
	}
	r.Start()
	f.Cleanup(r.Stop)
	eui := lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}
	u := (*r.ups.Load())[0]
	u.mu.Lock()
	u.addr = upstreamAddr // what the resolver finds too
	u.mu.Unlock()
	l := &upLink{eui: eui}
	f.Fuzz(func(t *testing.T, b []byte) {
		l.hasToken = false
		u.handleReply(l, b, upstreamAddr)
		h, err := gwmp.ParseHeader(b)
		if (err == nil && h.Type == gwmp.PullResp) != l.hasToken {
			t.Fatalf("token remembered %v for %q", l.hasToken, b)
		}
		if l.hasToken && l.token != h.Token {
			t.Fatalf("token %x, want %x", l.token, h.Token)
		}
	})
}
