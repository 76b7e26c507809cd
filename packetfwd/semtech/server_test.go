package semtech

import (
	"bytes"
	"context"
	"edgeflow/internal/testkit"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// testClock is the injected clock; tests move it by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a log a goroutine writes while the test reads it.
type syncBuffer = testkit.LogBuffer

// harness is a server on 127.0.0.1:0 with a recording handler and a fake
// packet forwarder that, like the reference one, uses two connected
// sockets: push for PUSH_DATA, pull for PULL_DATA and TX_ACK.
type harness struct {
	t       *testing.T
	srv     *Server
	set     *metrics.Set
	clock   *testClock
	logs    *syncBuffer
	frames  chan []radio.Frame
	handler func([]radio.Frame) error
	push    *net.UDPConn
	pull    *net.UDPConn
}

// newHarness starts the server; hook, if not nil, runs in the handler
// before the frames are recorded, and its error is the handler's.
func newHarness(t *testing.T, cfg Config, hook func([]radio.Frame) error) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, hook, nil)
}

// newHarnessOn is newHarness with the read loop on newIn (nil: the
// platform's).
func newHarnessOn(t *testing.T, cfg Config, hook func([]radio.Frame) error,
	newIn func(*net.UDPConn, func(netip.AddrPort, []byte) error) datagrams) *harness {
	t.Helper()
	h := &harness{t: t, handler: hook, set: metrics.NewSet(), logs: &syncBuffer{}, frames: make(chan []radio.Frame, 64),
		clock: &testClock{t: recvTime}}
	cfg.Bind = "127.0.0.1:0"
	cfg.Now = h.clock.Now
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = listen(t, cfg, radio.HandlerFunc(func(_ context.Context, f []radio.Frame) error {
		if h.handler != nil {
			if err := h.handler(f); err != nil {
				return err
			}
		}
		h.frames <- f
		return nil
	}), logger, h.set)
	if newIn != nil {
		h.srv.newIn = newIn
	}
	t.Cleanup(serve(t, h.srv))
	h.push, h.pull = h.dial(), h.dial()
	return h
}

func (h *harness) dial() *net.UDPConn {
	h.t.Helper()
	c, err := net.DialUDP("udp", nil, h.srv.Addr().(*net.UDPAddr))
	if err != nil {
		h.t.Fatal(err)
	}
	// A deadline only keeps a broken test from hanging; nothing is timed.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	h.t.Cleanup(func() { c.Close() })
	return c
}

func (h *harness) send(c *net.UDPConn, b []byte) {
	h.t.Helper()
	if _, err := c.Write(b); err != nil {
		h.t.Fatal(err)
	}
}

// expect reads one datagram from c and checks it.
func (h *harness) expect(c *net.UDPConn, want []byte) {
	h.t.Helper()
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil {
		h.t.Fatalf("waiting for % x: %v", want, err)
	}
	if !bytes.Equal(buf[:n], want) {
		h.t.Fatalf("got % x, want % x", buf[:n], want)
	}
}

// sync makes sure that everything sent before has been handled: datagrams
// are handled in order, so a PULL_ACK means the ones before it are done.
func (h *harness) sync() {
	h.t.Helper()
	h.send(h.pull, mustHex("02fffe02ffffffffffffffff"))
	h.expect(h.pull, mustHex("02fffe04"))
}

func (h *harness) nextFrames() []radio.Frame {
	h.t.Helper()
	select {
	case f := <-h.frames:
		return f
	case <-time.After(testkit.Patience):
		h.t.Fatal("no frames")
		return nil
	}
}

func (h *harness) noFrames() {
	h.t.Helper()
	select {
	case f := <-h.frames:
		h.t.Fatalf("unexpected frames %+v", f)
	default:
	}
}

func (h *harness) counter(name string) uint64 { return h.set.GetOrCreateCounter(name).Get() }

func assertFrames(t *testing.T, got, want []radio.Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("frame %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

var (
	euiP1 = lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1}
	euiP2 = lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 0, 0}
)

func TestUDPPushData(t *testing.T) {
	h := newHarness(t, Config{}, nil)

	// P1, v2: the ack echoes version and token, after the handler got it.
	h.send(h.push, pkt(2, "4ee8", 0, "aa555a0000000101", p1JSON))
	h.expect(h.push, mustHex("024ee801"))
	assertFrames(t, h.nextFrames(), []radio.Frame{{PHYPayload: p1PHY, GatewayEUI: euiP1, Time: recvTime, Tmst: 284024332,
		Frequency: 868.1, Modulation: "LORA", DataRate: "SF10BW125", SF: 10, Bandwidth: 125, CodeRate: "4/5",
		RFChain: 1, RSSI: -89, SNR: 10.5, CRCStatus: 1}})

	// P2 (carrying V1), byte for byte as in the reference.
	h.clock.Add(time.Second)
	h.send(h.push, p2)
	h.expect(h.push, mustHex("024ee801"))
	assertFrames(t, h.nextFrames(), []radio.Frame{{PHYPayload: v1PHY, GatewayEUI: euiP2, Time: recvTime.Add(time.Second),
		Tmst: 3512348611, Frequency: 868.5, Modulation: "LORA", DataRate: "SF7BW125", SF: 7, Bandwidth: 125,
		CodeRate: "4/5", Channel: 2, RSSI: -57, SNR: 7.5, CRCStatus: 1}})

	// P4 stat only, v1: acked in v1, no frames, position learnt.
	h.send(h.push, pkt(1, "0102", 0, "aa555a0000000000", p4JSON))
	h.expect(h.push, mustHex("01010201"))

	// P3 multi-antenna, v1, from the same gateway: one frame per antenna,
	// the GPS time, and the position of the stat.
	gps := time.Date(2017, 7, 4, 13, 51, 17, 997099000, time.UTC)
	h.send(h.push, pkt(1, "0304", 0, "aa555a0000000000", p3JSON))
	h.expect(h.push, mustHex("01030401"))
	base := radio.Frame{PHYPayload: p3PHY, GatewayEUI: euiP2, Time: gps, GPSTime: true, Tmst: 879148780,
		Frequency: 868.5, Modulation: "LORA", DataRate: "SF7BW125", SF: 7, Bandwidth: 125, CodeRate: "4/5",
		CRCStatus: 1, HasPosition: true, Latitude: 52.34223, Longitude: 5.29685, Altitude: 66}
	ant0, ant1 := base, base
	ant0.Channel, ant0.RSSI, ant0.SNR = 7, -95, 14
	ant1.Antenna, ant1.Channel, ant1.RSSI, ant1.SNR = 1, 23, -93, 14
	assertFrames(t, h.nextFrames(), []radio.Frame{ant0, ant1})

	// Several rxpk in one datagram, with a CRC error among them: one
	// handler call with the good ones.
	h.send(h.push, pkt(2, "0506", 0, "aa555a0000000101", `{"rxpk":[
		{"tmst":1,"freq":868.1,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","rssi":-50,"lsnr":9,"data":"QPF9vkkAAgABlUN4disR/w0="},
		{"tmst":2,"freq":868.3,"stat":-1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","rssi":-120,"lsnr":-20,"data":"AAAA"},
		{"tmst":3,"freq":868.5,"chan":2,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","rssi":-60,"lsnr":8,"data":"gPwKEgeAOQACCeQOfm4V1kR0WNikxzMUPQ2YxNo"}]}`))
	h.expect(h.push, mustHex("02050601"))
	got := h.nextFrames()
	assertFrames(t, got, []radio.Frame{
		{PHYPayload: v1PHY, GatewayEUI: euiP1, Time: recvTime.Add(time.Second), Tmst: 1, Frequency: 868.1,
			Modulation: "LORA", DataRate: "SF7BW125", SF: 7, Bandwidth: 125, CodeRate: "4/5", RSSI: -50, SNR: 9, CRCStatus: 1},
		{PHYPayload: p1PHY, GatewayEUI: euiP1, Time: recvTime.Add(time.Second), Tmst: 3, Frequency: 868.5, Channel: 2,
			Modulation: "LORA", DataRate: "SF9BW125", SF: 9, Bandwidth: 125, CodeRate: "4/5", RSSI: -60, SNR: 8, CRCStatus: 1},
	})
	h.noFrames()

	h.sync() // counters are updated after the ack is sent
	for name, want := range map[string]uint64{
		`edgeflow_udp_packets_received_total{type="push_data"}`: 5,
		`edgeflow_udp_acks_sent_total{type="push_ack"}`:         5,
		`edgeflow_udp_rxpk_received_total`:                      6,
		`edgeflow_udp_rxpk_dropped_total{reason="crc_error"}`:   1,
		`edgeflow_udp_frames_total`:                             6,
	} {
		if got := h.counter(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}

	gws := h.srv.Gateways()
	if len(gws) != 3 || gws[0].EUI != euiP2 || gws[1].EUI != euiP1 { // and sync's gateway
		t.Fatalf("gateways %+v", gws)
	}
	g := gws[0]
	if !g.HasPosition || g.Latitude != 52.34223 || g.Longitude != 5.29685 || g.Altitude != 66 ||
		g.PushDataCount != 3 || g.RXPKCount != 2 || g.ProtocolVersion != 1 ||
		!g.LastStat.Equal(recvTime.Add(time.Second)) || !g.StatTime.Equal(time.Date(2017, 6, 8, 9, 40, 42, 0, time.UTC)) ||
		g.Temperature == nil || *g.Temperature != 30.5 || g.PushAddr.String() != h.push.LocalAddr().String() {
		t.Errorf("gateway status %+v", g)
	}
	if gws[1].HasPosition {
		t.Errorf("P1 gateway has a position: %+v", gws[1])
	}
}

func TestUDPPullDataGoesToPullSocket(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	eui := lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}
	if _, ok := h.srv.DownlinkPath(eui); ok {
		t.Fatal("downlink path before any PULL_DATA")
	}
	// P6, v2, then a PUSH_DATA from the other socket.
	h.send(h.pull, mustHex("020001020102030405060708"))
	h.send(h.push, pkt(2, "0001", 0, "0102030405060708", `{}`))
	// Each ack arrives at the socket of its request: if the PULL_ACK went to
	// the push socket, this read would see it instead of the PUSH_ACK.
	h.expect(h.push, mustHex("02000101"))
	h.expect(h.pull, mustHex("02000104"))

	path, ok := h.srv.DownlinkPath(eui)
	if !ok || path.Addr.String() != h.pull.LocalAddr().String() || path.Version != 2 || !path.LastSeen.Equal(recvTime) {
		t.Fatalf("downlink path %+v %v (pull socket %v)", path, ok, h.pull.LocalAddr())
	}

	// A v1 gateway gets v1 acks and a v1 downlink path, from a new socket.
	pull2 := h.dial()
	h.clock.Add(5 * time.Second)
	h.send(pull2, mustHex("01abcd020102030405060708"))
	h.expect(pull2, mustHex("01abcd04"))
	path, _ = h.srv.DownlinkPath(eui)
	if path.Addr.String() != pull2.LocalAddr().String() || path.Version != 1 || !path.LastSeen.Equal(recvTime.Add(5*time.Second)) {
		t.Fatalf("downlink path after move %+v", path)
	}

	// TX_ACKs (success, error with trailing NUL) are counted, not answered.
	h.send(pull2, mustHex("01abcd050102030405060708"))
	h.send(pull2, append(mustHex("01abcd050102030405060708"), `{"txpk_ack":{"error":"TOO_LATE"}}`+"\x00"...))
	h.sync()
	if got := h.counter(`edgeflow_udp_packets_received_total{type="tx_ack"}`); got != 2 {
		t.Errorf("tx_ack received %d", got)
	}
	if got := h.counter("edgeflow_udp_tx_ack_errors_total"); got != 1 {
		t.Errorf("tx_ack errors %d", got)
	}

	// SendTo reaches the downlink path (what a relay does with PULL_RESP).
	if err := h.srv.SendTo(path.Addr, mustHex("01000003")); err != nil {
		t.Fatal(err)
	}
	h.expect(pull2, mustHex("01000003"))

	gws := h.srv.Gateways()
	if len(gws) != 2 || gws[0].EUI != eui || gws[0].PullDataCount != 2 || gws[0].PushDataCount != 1 {
		t.Errorf("gateways %+v", gws)
	}
}

func TestUDPMalformedInterleaved(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	huge := pkt(2, "0909", 0, "0102030405060708", `{"rxpk":[`+strings.Repeat("x", 60000)+`]}`)
	valid := func(token string) []byte { return pkt(2, token, 0, "aa555a0000000101", p1JSON) }
	steps := []struct {
		in  []byte
		ack []byte // expected on the push socket, nil for none
	}{
		{[]byte("ab"), nil},                                                      // too_short
		{valid("0001"), mustHex("02000101")},                                     //
		{append([]byte{3}, valid("0002")[1:]...), nil},                           // unknown_version
		{mustHex("02000207"), nil},                                               // unknown_type
		{mustHex("0200030001020304"), nil},                                       // too_short: no EUI
		{pkt(2, "0004", 0, "0102030405060708", "{garbage"), mustHex("02000401")}, // bad_json, still acked
		{valid("0005"), mustHex("02000501")},                                     //
		{pkt(2, "0006", 0, "0102030405060708", ""), mustHex("02000601")},         // no_json
		{pkt(2, "0007", 0, "0102030405060708", `{"rxpk":[{"stat":1,"modu":"LORA","datr":"SF7BW125","data":"!!!!"}]}`), mustHex("02000701")}, // rxpk bad_base64
		{huge, mustHex("02090901")},                    // bad_json, huge
		{mustHex("02000801"), nil},                     // a PUSH_ACK sent to us: unexpected_type
		{pkt(2, "0009", 2, "01020304050607", ""), nil}, // too_short PULL_DATA
		{valid("000a"), mustHex("02000a01")},           //
		{[]byte{}, nil},                                // too_short, empty
		{pkt(2, "000b", 0, "0102030405060708", `{"rxpk":[{"tmst":"x"}]}`), mustHex("02000b01")}, // bad_json type error
		{valid("000c"), mustHex("02000c01")},                                                    //
	}
	for _, s := range steps {
		h.send(h.push, s.in)
		if s.ack != nil {
			h.expect(h.push, s.ack)
		}
	}
	h.sync()
	for i := 0; i < 4; i++ {
		f := h.nextFrames()
		if len(f) != 1 || !bytes.Equal(f[0].PHYPayload, p1PHY) {
			t.Fatalf("valid datagram %d: %+v", i, f)
		}
	}
	h.noFrames()
	for name, want := range map[string]uint64{
		`edgeflow_udp_dropped_total{reason="too_short"}`:        4,
		`edgeflow_udp_dropped_total{reason="unknown_version"}`:  1,
		`edgeflow_udp_dropped_total{reason="unknown_type"}`:     1,
		`edgeflow_udp_dropped_total{reason="bad_json"}`:         3,
		`edgeflow_udp_dropped_total{reason="no_json"}`:          1,
		`edgeflow_udp_dropped_total{reason="unexpected_type"}`:  1,
		`edgeflow_udp_dropped_total{reason="panic"}`:            0,
		`edgeflow_udp_rxpk_dropped_total{reason="bad_base64"}`:  1,
		`edgeflow_udp_packets_received_total{type="push_data"}`: 10,
		`edgeflow_udp_packets_received_total{type="push_ack"}`:  1,
		`edgeflow_udp_packets_received_total{type="pull_data"}`: 2, // with sync's
		`edgeflow_udp_acks_sent_total{type="push_ack"}`:         9,
		`edgeflow_udp_frames_total`:                             4,
	} {
		if got := h.counter(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}

	// All of it came from one source within the interval: one log line.
	if n := strings.Count(h.logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, h.logs)
	}
	// The next one after the interval says how many were held back.
	h.clock.Add(10 * time.Second)
	h.send(h.push, []byte("x"))
	h.sync()
	logs := h.logs.String()
	if n := strings.Count(logs, "level=WARN"); n != 2 || !strings.Contains(logs, "suppressed=11") {
		t.Fatalf("after the interval:\n%s", logs)
	}
	if !strings.Contains(logs, "source=127.0.0.1:") || !strings.Contains(logs, "reason=too_short") {
		t.Errorf("log keys:\n%s", logs)
	}
}

func TestUDPHandlerErrorAndPanic(t *testing.T) {
	var mode atomic.Value // written here, read by the server goroutine
	mode.Store("")
	h := newHarness(t, Config{}, func([]radio.Frame) error {
		switch mode.Load() {
		case "error":
			return errors.New("buffer full")
		case "panic":
			panic("handler bug")
		}
		return nil
	})
	mode.Store("error")
	h.send(h.push, pkt(2, "0101", 0, "aa555a0000000101", p1JSON))
	h.sync() // no PUSH_ACK: an ack would mean committed
	mode.Store("panic")
	h.clock.Add(time.Minute) // so that the panic gets its own log line
	h.send(h.push, pkt(2, "0102", 0, "aa555a0000000101", p1JSON))
	h.sync()
	mode.Store("")
	h.send(h.push, pkt(2, "0103", 0, "aa555a0000000101", p1JSON))
	h.expect(h.push, mustHex("02010301")) // the first PUSH_ACK on this socket
	if f := h.nextFrames(); len(f) != 1 {
		t.Fatalf("frames %+v", f)
	}
	if got := h.counter("edgeflow_udp_handler_errors_total"); got != 1 {
		t.Errorf("handler errors %d", got)
	}
	if got := h.counter(`edgeflow_udp_dropped_total{reason="panic"}`); got != 1 {
		t.Errorf("panics %d", got)
	}
	if !strings.Contains(h.logs.String(), "handler bug") {
		t.Errorf("panic not logged:\n%s", h.logs)
	}
}

func TestUDPFixedPosition(t *testing.T) {
	h := newHarness(t, Config{Position: &Position{Latitude: 48.85, Longitude: 2.35, Altitude: 35}}, nil)
	// The gateway's own stat does not override the configured position.
	h.send(h.push, pkt(2, "0001", 0, "aa555a0000000000", p4JSON[:len(p4JSON)-1]+`,"rxpk":`+p1JSON[8:]))
	h.expect(h.push, mustHex("02000101"))
	f := h.nextFrames()
	if len(f) != 1 || !f[0].HasPosition || f[0].Latitude != 48.85 || f[0].Longitude != 2.35 || f[0].Altitude != 35 {
		t.Fatalf("frames %+v", f)
	}
}

func TestUDPStop(t *testing.T) {
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv := listen(t, Config{Bind: "127.0.0.1:0"}, radio.HandlerFunc(func(context.Context, []radio.Frame) error { return nil }),
		slog.New(slog.NewTextHandler(logs, nil)), nil)
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx) }()
	addr := srv.Addr().(*net.UDPAddr)
	cancel() // the end of ctx stops the server
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("error logged on close:\n%s", logs)
	}
	if err := srv.SendTo(netip.MustParseAddrPort("127.0.0.1:9"), []byte{1}); err == nil {
		t.Error("SendTo after Run succeeded")
	}
	// The port is free again.
	c, err := net.ListenUDP("udp", addr)
	if err != nil {
		t.Fatalf("port still bound: %v", err)
	}
	c.Close()

	// A bad bind address is an error, not a panic.
	if _, err := Listen(Config{Bind: "127.0.0.1:notaport"}, nil, nil, nil); err == nil {
		t.Error("bad bind accepted")
	}
	// A server that never ran releases its port on Close.
	srv = listen(t, Config{Bind: "127.0.0.1:0"}, nil, nil, nil)
	addr = srv.Addr().(*net.UDPAddr)
	srv.Close()
	if c, err = net.ListenUDP("udp", addr); err != nil {
		t.Fatalf("port of a closed server still bound: %v", err)
	}
	c.Close()
}

// handleOne takes b from src along the read loop's path, as a read of b
// alone would; acks go out through the server's SendTo.
func (r *reader) handleOne(ctx context.Context, b []byte, src netip.AddrPort) {
	d, ok := r.in.(*single)
	if !ok {
		d = &single{send: r.s.SendTo} // once: benchmarks count allocations
		r.in = d
	}
	d.buf, d.n, d.src = b, len(b), src
	r.handleBatch(ctx, 1)
}

// listen is Listen that fails the test on an error.
func listen(t testing.TB, cfg Config, h radio.Handler, logger *slog.Logger, set *metrics.Set) *Server {
	t.Helper()
	srv, err := Listen(cfg, h, logger, set)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// serve runs srv; the function it returns ends Run and waits for it.
func serve(t testing.TB, srv *Server) (stop func()) { return testkit.RunSource(t, srv) }

func newTestLogger(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// Stopping while a forwarder is sending logs no errors and returns.
func TestUDPStopUnderLoad(t *testing.T) {
	logs := &syncBuffer{}
	srv := listen(t, Config{Bind: "127.0.0.1:0"}, radio.HandlerFunc(func(context.Context, []radio.Frame) error { return nil }),
		newTestLogger(logs), nil)
	stop := serve(t, srv)
	c, err := net.DialUDP("udp", nil, srv.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	datagram := pkt(2, "0001", 0, "aa555a0000000101", p1JSON)
	// Wait for one ack so that the server is surely busy, then stop it
	// while datagrams keep coming.
	c.Write(datagram)
	if _, err := c.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			c.Write(datagram) // errors (ECONNREFUSED once closed) are expected
		}
	}()
	stop()
	<-done
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", logs)
	}
}
