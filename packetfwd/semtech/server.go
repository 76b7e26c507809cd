package semtech

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
	"edgeflow/packetfwd/internal/ratelog"
	"edgeflow/packetfwd/relay"
	"edgeflow/radio"
)

// Config configures the Semtech UDP (GWMP) server.
type Config struct {
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
	// of the packet forwarder unchanged (relay mode; see packetfwd/relay). Names
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
	// RateLimit caps datagrams per source IP:port; DefaultRatePerSecond
	// with DefaultRateBurst when zero.
	RateLimit RateLimit
}

// DefaultBind is the listen address when Config.Bind is empty.
const DefaultBind = "127.0.0.1:1700"

// maxDatagram is the largest UDP payload; sx1302 forwarders can fill it.
const maxDatagram = 65535

// Server receives GWMP from packet forwarders. It acknowledges PUSH_DATA
// after the handler took the frames and PULL_DATA at once, and keeps the
// status of each gateway. Datagrams are handled in arrival order by a
// single goroutine, a batch at a time, so the handler sees frames in
// order.
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
// and the relay's edgeflow_relay_* (packetfwd/relay).
type Server struct {
	cfg     Config
	handler radio.Handler
	logger  *slog.Logger
	now     func() time.Time
	metrics *udpMetrics
	rlog    *ratelog.Log
	gws     *registry
	policy  *sourcePolicy
	relay   *relay.Relay

	conn *net.UDPConn // nil only in tests that drive a reader by hand
	// newIn wraps conn for the read loop: newDatagrams, or in tests
	// newSingle, so that Linux runs the other platforms' path too.
	newIn func(*net.UDPConn, func(netip.AddrPort, []byte) error) datagrams

	mu     sync.Mutex // guards ran, closed
	ran    bool
	closed bool
	done   chan struct{} // closed by Close
}

// Listen binds the socket of a server that passes frames to h; Run then
// serves. Binding here lets a port in use fail the agent's start before it
// says it started. logger may be nil (discard); set may be nil (a private
// set, for tests).
func Listen(cfg Config, h radio.Handler, logger *slog.Logger, set *metrics.Set) (*Server, error) {
	s := newServer(cfg, h, logger, set)
	addr, err := net.ResolveUDPAddr("udp", s.cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("semtech: resolve udp bind %q: %w", s.cfg.Bind, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("semtech: listen udp %q: %w", s.cfg.Bind, err)
	}
	s.conn = conn
	s.policy.defaultAllow(conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr())
	s.logger.Info("Listening for packet forwarders", "bind", conn.LocalAddr().String())
	return s, nil
}

// newServer is a server without a socket: Listen's first half, and what
// tests that drive a reader by hand use.
func newServer(cfg Config, h radio.Handler, logger *slog.Logger, set *metrics.Set) *Server {
	if cfg.Bind == "" {
		cfg.Bind = DefaultBind
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
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	s := &Server{
		cfg:     cfg,
		handler: h,
		logger:  logger,
		now:     cfg.Now,
		metrics: newUDPMetrics(set),
		rlog:    ratelog.New(logger, cfg.LogInterval, cfg.Now),
		gws:     newRegistry(cfg.MaxGateways),
		policy:  newSourcePolicy(&cfg, set),
		done:    make(chan struct{}),
		newIn:   newDatagrams,
	}
	s.relay = relay.New(relay.Config{Timeout: cfg.UpstreamTimeout, OnDownlink: cfg.OnDownlink,
		LookupNetIP: cfg.LookupNetIP, Now: cfg.Now, Logger: logger, Log: s.rlog}, relayPath{s}, set)
	if err := s.relay.Set(cfg.Upstreams); err != nil {
		// Config validation should have caught it; run without relay
		// rather than not at all.
		logger.Error("Relay disabled", "error", err.Error())
	}
	set.GetOrCreateGauge("edgeflow_udp_gateways", func() float64 { return float64(s.gws.len()) })
	return s
}

// Run serves until ctx ends; ctx is also the context handed to the
// Handler. It then closes the socket and returns once the datagrams in
// hand have been handled and the relay has stopped.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran || s.closed || s.conn == nil {
		s.mu.Unlock()
		return errors.New("semtech: server already run, closed or not listening")
	}
	s.ran = true
	s.mu.Unlock()
	s.relay.Start()
	defer s.relay.Stop()
	read := make(chan struct{})
	go func() {
		defer close(read)
		newReader(s, s.newIn(s.conn, s.SendTo)).run(ctx)
	}()
	select {
	case <-ctx.Done():
	case <-read: // only when the socket is closed
	}
	s.Close()
	<-read
	return nil
}

// Addr returns the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Close closes the socket: a Run ends, one not yet begun fails. It is safe
// to call more than once, and needed only for a server that never ran.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	if s.conn != nil {
		return s.conn.Close()
	}
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// SendTo sends a raw datagram from the server's socket, e.g. a PULL_RESP to
// a gateway's DownlinkPath: forwarders connect() their sockets, so replies
// must come from the address they send to.
func (s *Server) SendTo(addr netip.AddrPort, b []byte) error {
	if s.conn == nil {
		return errors.New("semtech: UDP server not listening")
	}
	_, err := s.conn.WriteToUDPAddrPort(b, addr)
	return err
}

// Gateways returns the status of every gateway heard from, by EUI.
func (s *Server) Gateways() []GatewayStatus { return s.gws.list() }

// DownlinkPath returns where the gateway's last PULL_DATA came from and its
// protocol version; ok is false if it never sent one.
func (s *Server) DownlinkPath(eui lorawan.EUI64) (DownlinkPath, bool) {
	return s.gws.downlinkPath(eui)
}

// relayPath is the server as the relay sees it.
type relayPath struct{ s *Server }

func (p relayPath) DownlinkPath(eui lorawan.EUI64) (netip.AddrPort, uint8, bool) {
	d, ok := p.s.gws.downlinkPath(eui)
	return d.Addr, d.Version, ok
}

func (p relayPath) SendTo(addr netip.AddrPort, b []byte) error { return p.s.SendTo(addr, b) }

// Upstreams returns the relay's upstreams and their state, in configured
// order.
func (s *Server) Upstreams() []relay.UpstreamStatus { return s.relay.Status() }

// SetUpstreams replaces the relay's upstreams without a restart; those
// that stay keep their sockets (the network servers see no change).
func (s *Server) SetUpstreams(addrs []string) error { return s.relay.Set(addrs) }
