package packetfwd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
)

// UDPConfig configures the Semtech UDP (GWMP) server.
type UDPConfig struct {
	// Bind is the listen address; "127.0.0.1:1700" when empty.
	Bind string
	// Position, when set, is used for every Frame instead of the position
	// the gateway reports in its stat.
	Position *Position
	// Now is the clock (reception times, gateway status); nil means time.Now.
	Now func() time.Time
	// LogInterval is the least time between two warnings about one source
	// IP; 10 s when zero.
	LogInterval time.Duration
	// MaxGateways bounds the gateway registry; 256 when zero.
	MaxGateways int

	// Upstreams are network servers, "host:port", that get every datagram
	// of the packet forwarder unchanged (relay mode; see relay.go). Names
	// are resolved in the background, at start and when a server stops
	// answering. SetUpstreams changes them while running.
	Upstreams []string
	// UpstreamTimeout: an upstream that answered none of the last few
	// datagrams for this long is down and its name is resolved again;
	// 30 s when zero.
	UpstreamTimeout time.Duration
	// OnDownlink, when set, sees each PULL_RESP relayed from an upstream
	// to the gateway, just before it is sent (a join-accept must be known
	// before the device answers it). It runs on the upstream's reader
	// goroutine and must return quickly.
	OnDownlink func(gatewayEUI lorawan.EUI64, txpk gwmp.TXPK)
	// LookupNetIP resolves upstream names; nil means
	// net.DefaultResolver.LookupNetIP. Tests count lookups with it.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)

	// Allow lists the source networks accepted. Empty: only loopback
	// sources when bound to a loopback address, else all.
	Allow []netip.Prefix
	// GatewayEUIs, when not empty, are the only gateways accepted (and
	// relayed).
	GatewayEUIs []lorawan.EUI64
	// RateLimit caps datagrams per source IP:port; 200/s with a burst of
	// 400 when zero (see DefaultRatePerSecond).
	RateLimit RateLimit
}

// DefaultUDPBind is the listen address when UDPConfig.Bind is empty.
const DefaultUDPBind = "127.0.0.1:1700"

// maxDatagram is the largest UDP payload; sx1302 forwarders can fill it.
const maxDatagram = 65535

// UDPServer receives GWMP from packet forwarders. It acknowledges PUSH_DATA
// after the handler took the frames and PULL_DATA at once, and keeps the
// status of each gateway. Datagrams are handled one at a time, in arrival
// order, by a single goroutine, so the handler sees frames in order.
//
// Metrics (all counters unless said otherwise):
//
//	edgeflow_udp_packets_received_total{type}   datagrams with a valid header, by packet type
//	edgeflow_udp_dropped_total{reason}          datagrams dropped whole (datagramDropReasons)
//	edgeflow_udp_rxpk_received_total            rxpk in decoded PUSH_DATA
//	edgeflow_udp_rxpk_dropped_total{reason}     rxpk left out (rxpkDropReasons)
//	edgeflow_udp_frames_total                   Frames passed to the handler
//	edgeflow_udp_acks_sent_total{type}          push_ack, pull_ack
//	edgeflow_udp_send_errors_total              acks that could not be sent
//	edgeflow_udp_handler_errors_total           PUSH_DATA left unacked as the handler failed
//	edgeflow_udp_tx_ack_errors_total            TX_ACKs reporting a failed downlink
//	edgeflow_udp_gateways                       gauge: gateways in the registry
//	edgeflow_udp_refused_total{reason}          not_allowed, gateway_not_allowed, rate_limited
//
// and the relay's edgeflow_relay_* (relay.go).
type UDPServer struct {
	cfg     UDPConfig
	handler radio.Handler
	logger  *slog.Logger
	now     func() time.Time
	metrics *udpMetrics
	rlog    *rateLog
	gws     *registry
	policy  *sourcePolicy
	relay   *relay

	mu      sync.Mutex // guards conn, started, stopped
	conn    *net.UDPConn
	started bool
	stopped bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// reader is the state of the goroutine that reads the socket: buffers
// reused across datagrams and the batch being handled. The read loop makes
// it and keeps it to itself (the server holds no reference), so nothing
// else can touch it while datagrams are handled; a test that wants the
// datagram path without a socket makes a reader of its own.
type reader struct {
	s     *UDPServer
	push  gwmp.PushDataPacket
	ack   [gwmp.HeaderLen]byte
	batch *batchConn // nil: one datagram per read
	// PUSH_DATA of the current batch waiting for its one handler call.
	deferred       []deferredPush
	deferredFrames []radio.Frame
}

func newReader(s *UDPServer) *reader { return &reader{s: s} }

// NewUDPServer returns a server that passes frames to h. logger may be nil
// (discard); set may be nil (a private set, for tests).
func NewUDPServer(cfg UDPConfig, h radio.Handler, logger *slog.Logger, set *metrics.Set) *UDPServer {
	if cfg.Bind == "" {
		cfg.Bind = DefaultUDPBind
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 10 * time.Second
	}
	if cfg.MaxGateways <= 0 {
		cfg.MaxGateways = 256
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = 30 * time.Second
	}
	if cfg.LookupNetIP == nil {
		cfg.LookupNetIP = net.DefaultResolver.LookupNetIP
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	s := &UDPServer{
		cfg:     cfg,
		handler: h,
		logger:  logger,
		now:     cfg.Now,
		metrics: newUDPMetrics(set),
		rlog:    newRateLog(logger, cfg.LogInterval, cfg.Now),
		gws:     newRegistry(cfg.MaxGateways),
		policy:  newSourcePolicy(&cfg, set),
		done:    make(chan struct{}),
	}
	s.relay = newRelay(s, set)
	if err := s.relay.set(cfg.Upstreams); err != nil {
		// Config validation should have caught it; run without relay
		// rather than not at all.
		logger.Error("Relay disabled", "error", err.Error())
	}
	set.GetOrCreateGauge("edgeflow_udp_gateways", func() float64 { return float64(s.gws.len()) })
	return s
}

// Start binds the socket and serves until Stop or until ctx is done. ctx is
// also the context handed to the Handler.
func (s *UDPServer) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("packetfwd: UDP server already started")
	}
	addr, err := net.ResolveUDPAddr("udp", s.cfg.Bind)
	if err != nil {
		return fmt.Errorf("packetfwd: resolve udp bind %q: %w", s.cfg.Bind, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("packetfwd: listen udp %q: %w", s.cfg.Bind, err)
	}
	s.conn, s.started = conn, true
	s.policy.defaultAllow(conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr())
	s.relay.start()
	// Add before starting, so that a Stop racing with Start waits for both.
	s.wg.Add(2)
	go s.readLoop(ctx, conn)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
			s.relay.stop()
		case <-s.done:
		}
	}()
	s.logger.Info("Listening for packet forwarders", "bind", conn.LocalAddr().String())
	return nil
}

// Addr returns the bound address (useful with port 0), nil before Start.
func (s *UDPServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	return s.conn.LocalAddr()
}

// Stop closes the socket and waits until the datagram in hand, if any, has
// been handled. It is safe to call more than once.
func (s *UDPServer) Stop() {
	s.shutdown()
	s.relay.stop()
	s.wg.Wait()
}

// Close is Stop, for io.Closer.
func (s *UDPServer) Close() error {
	s.Stop()
	return nil
}

// shutdown closes the socket without waiting; the read loop then ends.
func (s *UDPServer) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	close(s.done)
	if s.conn != nil {
		s.conn.Close()
	}
}

func (s *UDPServer) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// SendTo sends a raw datagram from the server's socket, e.g. a PULL_RESP to
// a gateway's DownlinkPath: forwarders connect() their sockets, so replies
// must come from the address they send to.
func (s *UDPServer) SendTo(addr netip.AddrPort, b []byte) error {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return errors.New("packetfwd: UDP server not started")
	}
	_, err := conn.WriteToUDPAddrPort(b, addr)
	return err
}

// Gateways returns the status of every gateway heard from, by EUI.
func (s *UDPServer) Gateways() []GatewayStatus { return s.gws.list() }

// DownlinkPath returns where the gateway's last PULL_DATA came from and its
// protocol version; ok is false if it never sent one.
func (s *UDPServer) DownlinkPath(eui lorawan.EUI64) (DownlinkPath, bool) {
	return s.gws.downlinkPath(eui)
}

func (s *UDPServer) readLoop(ctx context.Context, conn *net.UDPConn) {
	defer s.wg.Done()
	r := newReader(s)
	if r.readBatches(ctx, conn) {
		return
	}
	buf := make([]byte, maxDatagram)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.isStopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.logger.Error("Failed to read UDP datagram", "error", err)
			// Do not spin if the error persists.
			select {
			case <-s.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if reason := s.policy.admit(src, s.now()); reason != "" {
			s.refuse(reason, src)
			continue
		}
		r.handleDatagram(ctx, buf[:n], src)
	}
}

// handleDatagram handles one datagram. b is only valid during the call.
func (r *reader) handleDatagram(ctx context.Context, b []byte, src netip.AddrPort) {
	s := r.s
	defer func() {
		if r := recover(); r != nil {
			s.metrics.drop("panic")
			s.rlog.warn(src, "Recovered from panic while handling datagram", "panic", fmt.Sprint(r), "data", quoteData(b))
		}
	}()
	h, err := gwmp.ParseHeader(b)
	if err != nil {
		s.dropDatagram(src, err, b)
		return
	}
	s.metrics.received[h.Type].Inc()
	eui, hasEUI, ok := s.checkGateway(h, b, src)
	if !ok {
		return
	}
	switch h.Type {
	case gwmp.PushData:
		// Relayed first: the handler may wait for flash, upstreams need not.
		s.relay.forward(h.Type, b, eui, hasEUI)
		r.handlePushData(ctx, b, src)
	case gwmp.PullData:
		// Relayed after the downlink path is recorded, so that an upstream
		// answering at once with a PULL_RESP finds it.
		r.handlePullData(b, src)
		s.relay.forward(h.Type, b, eui, hasEUI)
	case gwmp.TXAck:
		s.handleTXAck(b, src)
		s.relay.forward(h.Type, b, eui, hasEUI)
	default:
		s.metrics.drop("unexpected_type")
		s.rlog.warn(src, "Dropped datagram", "reason", "unexpected_type", "type", h.Type.String())
	}
}

func (s *UDPServer) dropDatagram(src netip.AddrPort, err error, b []byte) {
	reason := gwmp.Reason(err)
	s.metrics.drop(reason)
	s.rlog.warn(src, "Dropped datagram", "reason", reason, "error", err.Error(), "size", len(b), "data", quoteData(b))
}

// sendAck sends a 4-byte ack echoing version and token from the server's
// own buffer, so that acking does not allocate.
func (r *reader) sendAck(b []byte, t gwmp.Type, src netip.AddrPort) bool {
	s := r.s
	r.ack = [4]byte{b[0], b[1], b[2], byte(t)}
	if r.batch != nil && r.batch.queueAck(r.ack) {
		return true // sent with the batch's other acks
	}
	if err := s.SendTo(src, r.ack[:]); err != nil {
		s.metrics.sendErrors.Inc()
		if !s.isStopped() {
			s.rlog.warn(src, "Failed to send ack", "type", t.String(), "error", err.Error())
		}
		return false
	}
	return true
}

// quoteData shows the start of a bad datagram in logs, enough to recognise
// a misconfigured sender without flooding the log.
func quoteData(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// Upstreams returns the relay's upstreams and their state, in configured
// order.
func (s *UDPServer) Upstreams() []UpstreamStatus { return s.relay.status() }

// SetUpstreams replaces the relay's upstreams without a restart; those
// that stay keep their sockets (the network servers see no change).
func (s *UDPServer) SetUpstreams(addrs []string) error { return s.relay.set(addrs) }
