package semtech

import (
	"bytes"
	"context"
	"edgeflow/internal/testkit"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/packetfwd/relay"
)

// fakeNS is a stand-in network server: one UDP socket on 127.0.0.1:0.
type fakeNS struct {
	t    *testing.T
	conn *net.UDPConn
}

func newFakeNS(t *testing.T) *fakeNS {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeNS{t: t, conn: c}
}

func (n *fakeNS) addr() string { return n.conn.LocalAddr().String() }

// recv returns the next datagram and where it came from (the relay's
// socket for one gateway).
func (n *fakeNS) recv() ([]byte, *net.UDPAddr) {
	n.t.Helper()
	buf := make([]byte, maxDatagram)
	n.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only against hangs
	k, from, err := n.conn.ReadFromUDP(buf)
	if err != nil {
		n.t.Fatalf("network server %s: %v", n.addr(), err)
	}
	return buf[:k], from
}

// expect reads the next datagram and checks it byte for byte.
func (n *fakeNS) expect(want []byte) *net.UDPAddr {
	n.t.Helper()
	got, from := n.recv()
	if !bytes.Equal(got, want) {
		n.t.Fatalf("network server %s got %q, want %q", n.addr(), got, want)
	}
	return from
}

func (n *fakeNS) sendTo(to *net.UDPAddr, b []byte) {
	n.t.Helper()
	if _, err := n.conn.WriteToUDP(b, to); err != nil {
		n.t.Fatal(err)
	}
}

// readFrom reads one datagram of any size from a forwarder socket.
func readFrom(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	buf := make([]byte, maxDatagram)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// waitFor polls cond: the relay works on other goroutines. The deadline only
// keeps a broken test from hanging; nothing is timed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitUntil(t, what, cond)
}

func waitResolved(t *testing.T, srv *Server) {
	t.Helper()
	waitFor(t, "upstreams resolved", func() bool {
		for _, u := range srv.Upstreams() {
			if !u.ResolvedAddr.IsValid() {
				return false
			}
		}
		return true
	})
}

type downlinkRecord struct {
	eui  lorawan.EUI64
	txpk gwmp.TXPK
}

func TestRelayTwoUpstreams(t *testing.T) {
	a, b := newFakeNS(t), newFakeNS(t)
	downlinks := make(chan downlinkRecord, 4)
	h := newHarness(t, Config{
		Upstreams:  []string{a.addr(), b.addr()},
		OnDownlink: func(eui lorawan.EUI64, txpk gwmp.TXPK) { downlinks <- downlinkRecord{eui, txpk} },
	}, nil)
	waitResolved(t, h.srv)

	// PULL_DATA: acked by edgeflow to the pull socket, relayed unchanged.
	pull := mustHex("02aaaa02aa555a0000000000")
	h.send(h.pull, pull)
	h.expect(h.pull, mustHex("02aaaa04"))
	fromA, fromB := a.expect(pull), b.expect(pull)

	// PUSH_DATA (P2): acked by edgeflow to the push socket, decoded, and
	// relayed unchanged from the same per-gateway socket as the PULL_DATA.
	h.send(h.push, p2)
	h.expect(h.push, mustHex("024ee801"))
	if f := h.nextFrames(); len(f) != 1 || !bytes.Equal(f[0].PHYPayload, v1PHY) {
		t.Fatalf("frames %+v", f)
	}
	if got := a.expect(p2); got.String() != fromA.String() {
		t.Errorf("upstream A saw the gateway from %v and %v", fromA, got)
	}
	if got := b.expect(p2); got.String() != fromB.String() {
		t.Errorf("upstream B saw the gateway from %v and %v", fromB, got)
	}

	// An uplink edgeflow cannot decode still reaches the upstreams.
	bad := pkt(2, "0102", 0, "aa555a0000000000", `{"rxpk":[{"data":`)
	h.send(h.push, bad)
	h.expect(h.push, mustHex("02010201"))
	a.expect(bad)
	b.expect(bad)

	// The upstreams' acks are not passed on, only counted.
	a.sendTo(fromA, mustHex("02aaaa04"))
	b.sendTo(fromB, mustHex("024ee801"))
	waitFor(t, "acks counted", func() bool {
		u := h.srv.Upstreams()
		return u[0].Acks == 1 && u[1].Acks == 1
	})

	// A PULL_RESP from B reaches the forwarder's pull socket unchanged.
	resp := append(mustHex("02beef03"), `{"txpk":{"imme":true,"freq":869.525,"rfch":0,"powe":14,"modu":"LORA","datr":"SF9BW125","codr":"4/5","ipol":true,"size":4,"data":"AQIDBA=="}}`...)
	b.sendTo(fromB, resp)
	if got := readFrom(t, h.pull); !bytes.Equal(got, resp) {
		t.Fatalf("forwarder got %q", got)
	}
	select {
	case d := <-downlinks:
		if d.eui != euiP2 || d.txpk.Freq != 869.525 || d.txpk.Data != "AQIDBA==" || !d.txpk.Imme {
			t.Errorf("OnDownlink got %+v", d)
		}
	case <-time.After(testkit.Patience):
		t.Fatal("OnDownlink not called")
	}

	// Its TX_ACK goes to B only; a TX_ACK with an unknown token to nobody.
	h.send(h.pull, mustHex("02dead05aa555a0000000000"))
	txAck := mustHex("02beef05aa555a0000000000")
	h.send(h.pull, txAck)
	if got := b.expect(txAck); got.String() != fromB.String() {
		t.Errorf("TX_ACK from %v, want %v", got, fromB)
	}
	// A's next datagram is the next PULL_DATA: it got no TX_ACK.
	pull2 := mustHex("02abab02aa555a0000000000")
	h.send(h.pull, pull2)
	h.expect(h.pull, mustHex("02abab04"))
	a.expect(pull2)
	b.expect(pull2)

	h.sync()
	// sync's PULL_DATA is relayed after all the above: once the upstreams
	// have it, the counters of what came before are final.
	a.expect(mustHex("02fffe02ffffffffffffffff"))
	b.expect(mustHex("02fffe02ffffffffffffffff"))
	waitFor(t, "downlink counted", func() bool { return h.counter(`edgeflow_relay_downlinks_total`) == 1 })
	for name, want := range map[string]uint64{
		`edgeflow_relay_dropped_total{reason="tx_ack_unmatched"}`: 1,
		`edgeflow_relay_downlinks_total`:                          1,
		`edgeflow_relay_tx_acks_total`:                            1,
		`edgeflow_relay_acks_received_total`:                      2,
	} {
		if got := h.counter(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	st := h.srv.Upstreams()
	if len(st) != 2 || st[0].Address != a.addr() || st[1].Address != b.addr() ||
		st[1].PullResps != 1 || st[0].PullResps != 0 || st[0].State != "up" ||
		st[0].ResolvedAddr.String() != a.addr() || st[0].Gateways != 2 || // and sync's gateway
		st[0].LastSent.IsZero() {
		t.Errorf("upstreams %+v", st)
	}
}

func TestRelayDownlinkInGatewayVersion(t *testing.T) {
	ns := newFakeNS(t)
	h := newHarness(t, Config{Upstreams: []string{ns.addr()}}, nil)
	waitResolved(t, h.srv)

	// A v1 gateway: the upstream's v2 PULL_RESP reaches it as v1, token
	// zeroed.
	h.send(h.pull, mustHex("01123402aa555a0000000000"))
	h.expect(h.pull, mustHex("01123404"))
	from := ns.expect(mustHex("01123402aa555a0000000000"))
	ns.sendTo(from, append(mustHex("02beef03"), `{"txpk":{}}`...))
	if got := readFrom(t, h.pull); !bytes.Equal(got, append(mustHex("01000003"), `{"txpk":{}}`...)) {
		t.Fatalf("forwarder got %q", got)
	}

	// A PULL_RESP for a gateway whose PULL_DATA was never seen (its socket
	// opened for a PUSH_DATA) is dropped.
	h.send(h.push, pkt(2, "0001", 0, "0102030405060708", `{}`))
	h.expect(h.push, mustHex("02000101"))
	from2 := ns.expect(pkt(2, "0001", 0, "0102030405060708", `{}`))
	if from2.String() == from.String() {
		t.Fatal("two gateways share one relay socket")
	}
	ns.sendTo(from2, append(mustHex("02beef03"), `{"txpk":{}}`...))
	waitFor(t, "no_downlink_path", func() bool {
		return h.counter(`edgeflow_relay_dropped_total{reason="no_downlink_path"}`) == 1
	})

	// A stranger sending to a relay socket is ignored.
	stranger, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, from)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	stranger.Write(append(mustHex("02beef03"), `{"txpk":{}}`...))
	waitFor(t, "unknown_source", func() bool {
		return h.counter(`edgeflow_relay_dropped_total{reason="unknown_source"}`) == 1
	})
}

// countingLookup resolves through the system resolver and counts lookups.
type countingLookup struct {
	n     atomic.Int64
	block chan struct{} // when not nil, lookups wait for it
}

func (c *countingLookup) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	c.n.Add(1)
	if c.block != nil {
		select {
		case <-c.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

func TestRelayReresolvesSilentUpstream(t *testing.T) {
	ns := newFakeNS(t)
	port := ns.conn.LocalAddr().(*net.UDPAddr).Port
	var lk countingLookup
	h := newHarness(t, Config{
		Upstreams:   []string{net.JoinHostPort("localhost", strconv.Itoa(port))},
		LookupNetIP: lk.lookup,
	}, nil)
	waitResolved(t, h.srv)
	if n := lk.n.Load(); n != 1 {
		t.Fatalf("%d lookups at start", n)
	}
	if got := h.srv.Upstreams()[0].ResolvedAddr; got != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)) {
		t.Fatalf("resolved to %v", got)
	}

	// The upstream receives but never answers.
	for i := range relay.Unanswered {
		b := mustHex("02000002aa555a0000000000")
		b[2] = byte(i)
		h.send(h.pull, b)
		h.expect(h.pull, append(b[:3:3], 4))
		ns.expect(b)
	}
	// The sender counts a datagram just after sending it.
	waitFor(t, "datagrams counted", func() bool { return h.srv.Upstreams()[0].Sent == relay.Unanswered })
	if st := h.srv.Upstreams()[0]; st.State != "up" {
		t.Fatalf("state %q before the timeout", st.State)
	}
	h.clock.Add(31 * time.Second)
	if st := h.srv.Upstreams()[0]; st.State != "down" {
		t.Fatalf("state %q after %d unanswered datagrams and 31 s", st.State, relay.Unanswered)
	}
	b := mustHex("02ffff02aa555a0000000000")
	h.send(h.pull, b)
	h.expect(h.pull, mustHex("02ffff04"))
	ns.expect(b)
	waitFor(t, "second lookup", func() bool { return lk.n.Load() == 2 })
	waitFor(t, "up after lookup", func() bool { return h.srv.Upstreams()[0].State == "up" })
	if n := h.counter(`edgeflow_relay_resolutions_total{result="ok"}`); n != 2 {
		t.Errorf("%d successful resolutions", n)
	}

	// An answer keeps it up: no more lookups while it acks.
	_, from := ns.recvAfter(h, mustHex("02000102aa555a0000000000"))
	ns.sendTo(from, mustHex("02000104"))
	waitFor(t, "ack", func() bool { return h.srv.Upstreams()[0].Acks == 1 })
	h.clock.Add(time.Minute)
	h.send(h.pull, mustHex("02000202aa555a0000000000"))
	h.expect(h.pull, mustHex("02000204"))
	ns.expect(mustHex("02000202aa555a0000000000"))
	if n := lk.n.Load(); n != 2 {
		t.Errorf("%d lookups while answering", n)
	}
}

// recvAfter has the forwarder send b and returns what the upstream got.
func (n *fakeNS) recvAfter(h *harness, b []byte) ([]byte, *net.UDPAddr) {
	n.t.Helper()
	h.send(h.pull, b)
	h.expect(h.pull, append(b[:3:3], 4))
	return b, n.expect(b)
}

func TestRelayHangingDNSDoesNotDelayAcks(t *testing.T) {
	lk := countingLookup{block: make(chan struct{})}
	h := newHarness(t, Config{Upstreams: []string{"ns.invalid:1700"}, LookupNetIP: lk.lookup}, nil)
	waitFor(t, "lookup started", func() bool { return lk.n.Load() == 1 })
	h.send(h.push, p2)
	h.expect(h.push, mustHex("024ee801"))
	h.nextFrames()
	waitFor(t, "unresolved drop", func() bool {
		return h.counter(`edgeflow_relay_dropped_total{reason="unresolved"}`) == 1
	})
	if st := h.srv.Upstreams()[0]; st.State != "down" || st.ResolvedAddr.IsValid() {
		t.Errorf("status %+v", st)
	}
}

func TestRelaySetUpstreams(t *testing.T) {
	a, b := newFakeNS(t), newFakeNS(t)
	h := newHarness(t, Config{Upstreams: []string{a.addr()}}, nil)
	waitResolved(t, h.srv)
	pull := mustHex("02000102aa555a0000000000")
	_, fromA := a.recvAfter(h, pull)

	if err := h.srv.SetUpstreams([]string{a.addr(), "nope"}); err == nil {
		t.Fatal("bad upstream accepted")
	}
	if err := h.srv.SetUpstreams([]string{b.addr(), a.addr(), b.addr()}); err != nil {
		t.Fatal(err)
	}
	waitResolved(t, h.srv)
	if st := h.srv.Upstreams(); len(st) != 2 || st[0].Address != b.addr() {
		t.Fatalf("upstreams %+v", st)
	}
	// A keeps its socket: the network server sees the gateway unchanged.
	pull2 := mustHex("02000202aa555a0000000000")
	h.send(h.pull, pull2)
	h.expect(h.pull, mustHex("02000204"))
	if got := a.expect(pull2); got.String() != fromA.String() {
		t.Errorf("A saw the gateway move from %v to %v", fromA, got)
	}
	b.expect(pull2)

	if err := h.srv.SetUpstreams(nil); err != nil {
		t.Fatal(err)
	}
	if st := h.srv.Upstreams(); len(st) != 0 {
		t.Fatalf("upstreams %+v", st)
	}
}

func TestRelaySocketsBoundedAndExpire(t *testing.T) {
	ns := newFakeNS(t)
	h := newHarness(t, Config{Upstreams: []string{ns.addr()}}, nil)
	waitResolved(t, h.srv)
	// Spoofed EUIs open sockets up to the bound, then replace the least
	// recently used.
	for i := range relay.MaxLinks + 4 {
		b := mustHex("02000002aa555a0000000000")
		b[11] = byte(i)
		h.send(h.pull, b)
		h.expect(h.pull, mustHex("02000004"))
		ns.expect(b)
	}
	if n := h.srv.Upstreams()[0].Gateways; n != relay.MaxLinks {
		t.Fatalf("%d sockets, want %d", n, relay.MaxLinks)
	}
	h.clock.Add(relay.LinkIdle)
	h.srv.relay.ExpireLinks() // what the sender does every minute
	if n := h.srv.Upstreams()[0].Gateways; n != 0 {
		t.Fatalf("%d sockets after %v idle", n, relay.LinkIdle)
	}
}

// An upstream whose up and down ports differ (a forwarder's serv_port_up
// and serv_port_down, "host:up/down") gets PUSH_DATA on the first and
// PULL_DATA and TX_ACK on the second, from one socket per gateway; its
// PULL_RESP, sent from the down port, reaches the forwarder.
func TestRelaySplitPorts(t *testing.T) {
	up, down := newFakeNS(t), newFakeNS(t)
	_, downPort, _ := net.SplitHostPort(down.addr())
	name := up.addr() + "/" + downPort
	h := newHarness(t, Config{Upstreams: []string{name}}, nil)
	waitResolved(t, h.srv)

	pull := mustHex("02aaaa02aa555a0000000000")
	h.send(h.pull, pull)
	h.expect(h.pull, mustHex("02aaaa04"))
	from := down.expect(pull)
	push := pkt(2, "0102", 0, "aa555a0000000000", `{"stat":{}}`)
	h.send(h.push, push)
	h.expect(h.push, mustHex("02010201"))
	if got := up.expect(push); got.String() != from.String() {
		t.Errorf("PUSH_DATA from %v, PULL_DATA from %v: one socket per gateway", got, from)
	}
	up.sendTo(from, mustHex("02010201")) // PUSH_ACK from the up port
	resp := append(mustHex("02beef03"), `{"txpk":{}}`...)
	down.sendTo(from, resp)
	if got := readFrom(t, h.pull); !bytes.Equal(got, resp) {
		t.Fatalf("forwarder got %q", got)
	}
	txAck := mustHex("02beef05aa555a0000000000")
	h.send(h.pull, txAck)
	down.expect(txAck)
	st := h.srv.Upstreams()
	if len(st) != 1 || st[0].Address != name || st[0].Acks != 1 || st[0].PullResps != 1 {
		t.Fatalf("upstreams %+v", st)
	}
}
