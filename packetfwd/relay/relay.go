package relay

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/packetfwd/internal/ratelog"
)

// Relay tuning. Not configurable: they follow from the protocol, not the site.
const (
	relayQueueLen = 64 // datagrams queued per upstream before dropping
	// MaxLinks bounds the sockets per upstream (one per gateway EUI),
	// so that spoofed EUIs cannot exhaust file descriptors; the least
	// recently used goes. Real agents serve one gateway.
	MaxLinks = 16
	// LinkIdle closes a gateway's socket after this long without a
	// datagram (forwarders send PULL_DATA every 5–30 s).
	LinkIdle = 5 * time.Minute
	// Unanswered datagrams without an ack, over UpstreamTimeout,
	// mark an upstream down and have its name resolved again.
	Unanswered = 3
	// relayResolveTimeout bounds one DNS lookup.
	relayResolveTimeout = 10 * time.Second
)

// Reasons for edgeflow_relay_dropped_total.
var relayDropReasons = []string{
	"unresolved",          // upstream name not resolved (yet)
	"queue_full",          // upstream's sender is behind
	"send_error",          // the write to the upstream failed
	"socket_error",        // no socket could be opened for the gateway
	"tx_ack_unmatched",    // TX_ACK whose token no upstream sent
	"no_downlink_path",    // PULL_RESP for a gateway that never sent PULL_DATA
	"downlink_send_error", // PULL_RESP could not be sent to the forwarder
	"unknown_source",      // datagram on an upstream socket from another host
	"bad_packet",          // not GWMP from an upstream
	"unexpected_type",     // e.g. PUSH_DATA sent by an upstream
	"other",
}

// UpstreamStatus is what the relay knows about one upstream.
type UpstreamStatus struct {
	Address      string         // as configured, "host:port"
	ResolvedAddr netip.AddrPort // zero until resolved
	LastResolved time.Time      // agent clock; zero if never
	ResolveError string         // of the last failed lookup, "" after success
	// State is "up", or "down" when unresolved or when datagrams went
	// unanswered for UpstreamTimeout.
	State        string
	LastSent     time.Time // last datagram sent to it
	LastAck      time.Time // last PUSH_ACK or PULL_ACK from it
	LastPullResp time.Time // last downlink from it
	Sent         uint64
	Acks         uint64
	PullResps    uint64
	Gateways     int // sockets open, one per gateway EUI
}

// relayDatagram is one datagram queued for one upstream. b is shared by
// all upstreams and never written.
type relayDatagram struct {
	b   []byte
	eui lorawan.EUI64
	typ gwmp.Type
}

type relayMetrics struct {
	sent, acks, downlinks, txAcks *metrics.Counter
	resolveOK, resolveErr         *metrics.Counter
	dropped                       map[string]*metrics.Counter
}

func newRelayMetrics(set *metrics.Set) *relayMetrics {
	m := &relayMetrics{
		sent:       set.GetOrCreateCounter("edgeflow_relay_sent_total"),
		acks:       set.GetOrCreateCounter("edgeflow_relay_acks_received_total"),
		downlinks:  set.GetOrCreateCounter("edgeflow_relay_downlinks_total"),
		txAcks:     set.GetOrCreateCounter("edgeflow_relay_tx_acks_total"),
		resolveOK:  set.GetOrCreateCounter(`edgeflow_relay_resolutions_total{result="ok"}`),
		resolveErr: set.GetOrCreateCounter(`edgeflow_relay_resolutions_total{result="error"}`),
		dropped:    make(map[string]*metrics.Counter),
	}
	for _, r := range relayDropReasons {
		m.dropped[r] = set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_relay_dropped_total{reason=%q}`, r))
	}
	return m
}

func (m *relayMetrics) drop(reason string) {
	c, ok := m.dropped[reason]
	if !ok {
		c = m.dropped["other"]
	}
	c.Inc()
}

// Gateways is the UDP server's side of the relay: downlinks go to a
// gateway from the server's own socket, to where its PULL_DATA came from.
type Gateways interface {
	// DownlinkPath is the address of the gateway's last PULL_DATA and its
	// protocol version; ok is false if it never sent one.
	DownlinkPath(eui lorawan.EUI64) (addr netip.AddrPort, version uint8, ok bool)
	// SendTo sends b from the server's socket.
	SendTo(addr netip.AddrPort, b []byte) error
}

// Config configures a Relay.
type Config struct {
	// Timeout: an upstream that answered none of the last few datagrams
	// for this long is down and its name is resolved again; 30 s when zero.
	Timeout time.Duration
	// OnDownlink, when set, sees each PULL_RESP relayed from an upstream
	// to the gateway, just before it is sent (a join-accept must be known
	// before the device answers it). It runs on the upstream's reader
	// goroutine and must return quickly.
	OnDownlink func(gatewayEUI lorawan.EUI64, txpk gwmp.TXPK)
	// LookupNetIP resolves upstream names; nil means
	// net.DefaultResolver.LookupNetIP. Tests count lookups with it.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger takes the relay's state changes; nil discards them.
	Logger *slog.Logger
	// Log takes the warnings about peers (the server's, shared so that
	// one peer is limited once); nil makes one from Logger.
	Log *ratelog.Log
}

// Relay owns the upstreams of one UDP server.
//
// Metrics (counters):
//
//	edgeflow_relay_sent_total                 datagrams sent to upstreams (one per upstream)
//	edgeflow_relay_acks_received_total        PUSH_ACK/PULL_ACK from upstreams
//	edgeflow_relay_downlinks_total            PULL_RESP passed to gateways
//	edgeflow_relay_tx_acks_total              TX_ACK passed to the upstream that asked
//	edgeflow_relay_resolutions_total{result}  ok, error
//	edgeflow_relay_dropped_total{reason}      relayDropReasons
type Relay struct {
	cfg     Config
	gws     Gateways
	metrics *relayMetrics

	ups atomic.Pointer[[]*upstream] // read by the read loop without locking

	mu      sync.Mutex // guards started, stopped and writes to ups
	started bool
	stopped bool
}

// New returns a relay without upstreams (Set adds them) that sends
// downlinks through gws. set may be nil (a private set, for tests).
func New(cfg Config, gws Gateways, set *metrics.Set) *Relay {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.LookupNetIP == nil {
		cfg.LookupNetIP = net.DefaultResolver.LookupNetIP
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Log == nil {
		cfg.Log = ratelog.New(cfg.Logger, 10*time.Second, cfg.Now)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	r := &Relay{cfg: cfg, gws: gws, metrics: newRelayMetrics(set)}
	r.ups.Store(&[]*upstream{})
	return r
}

// CheckUpstream validates an upstream address without resolving it (for
// configuration checks): "host:port", or "host:up/down" for a network
// server that takes PUSH_DATA on one port and PULL_DATA on another, as a
// forwarder's serv_port_up and serv_port_down may say.
func CheckUpstream(s string) error {
	_, _, _, err := SplitUpstream(s)
	return err
}

// SplitUpstream reads "host:port" or "host:up/down"; down is up when the
// address has one port.
func SplitUpstream(s string) (host string, up, down uint16, err error) {
	host, ports, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, 0, fmt.Errorf("relay: upstream %q: %w", s, err)
	}
	if host == "" {
		return "", 0, 0, fmt.Errorf("relay: upstream %q: no host", s)
	}
	us, ds, two := strings.Cut(ports, "/")
	if !two {
		ds = us
	}
	u, err1 := strconv.ParseUint(us, 10, 16)
	d, err2 := strconv.ParseUint(ds, 10, 16)
	if err1 != nil || err2 != nil || u == 0 || d == 0 {
		return "", 0, 0, fmt.Errorf("relay: upstream %q: bad port (write host:port or host:up/down)", s)
	}
	return host, uint16(u), uint16(d), nil
}

// Set replaces the upstreams. Those kept keep their sockets, so that their
// network servers see no change; removed ones are closed.
func (r *Relay) Set(addrs []string) error {
	for _, a := range addrs {
		if err := CheckUpstream(a); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.ups.Load()
	var next []*upstream
	for _, a := range addrs {
		if slices.ContainsFunc(next, func(u *upstream) bool { return u.name == a }) {
			continue // a duplicate would get every datagram twice
		}
		i := slices.IndexFunc(old, func(u *upstream) bool { return u.name == a })
		if i >= 0 {
			next = append(next, old[i])
			continue
		}
		u := newUpstream(r, a)
		if r.started && !r.stopped {
			u.start()
		}
		next = append(next, u)
	}
	r.ups.Store(&next)
	for _, u := range old {
		if !slices.Contains(next, u) {
			u.stop()
		}
	}
	return nil
}

// Start starts the upstreams' goroutines, those of Set's later too.
func (r *Relay) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = true
	for _, u := range *r.ups.Load() {
		u.start()
	}
}

// Stop stops the upstreams and waits for their goroutines; it is safe
// to call more than once.
func (r *Relay) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.stopped = true
	for _, u := range *r.ups.Load() {
		u.stop()
	}
}

// Status returns the upstreams and their state, in configured order.
func (r *Relay) Status() []UpstreamStatus {
	ups := *r.ups.Load()
	out := make([]UpstreamStatus, 0, len(ups))
	now := r.cfg.Now()
	for _, u := range ups {
		out = append(out, u.status(now))
	}
	return out
}

// Forward queues a datagram from the packet forwarder for the upstreams. It
// runs in the read loop: it copies b once and never blocks. eui is the
// gateway's (hasEUI false only for a TX_ACK of a forwarder older than
// v3.1.0, routed by token alone).
func (r *Relay) Forward(typ gwmp.Type, b []byte, eui lorawan.EUI64, hasEUI bool) {
	ups := *r.ups.Load()
	if len(ups) == 0 {
		return
	}
	if !hasEUI && typ != gwmp.TXAck {
		return
	}
	shared := bytes.Clone(b)
	if typ != gwmp.TXAck {
		for _, u := range ups {
			u.enqueue(relayDatagram{b: shared, eui: eui, typ: typ})
		}
		return
	}
	token := [2]byte{b[1], b[2]}
	matched := false
	for _, u := range ups {
		if linkEUI, ok := u.tokenOwner(eui, hasEUI, token); ok {
			matched = true
			u.enqueue(relayDatagram{b: shared, eui: linkEUI, typ: typ})
		}
	}
	if !matched {
		r.metrics.drop("tx_ack_unmatched")
	}
}

// ExpireLinks closes the gateway sockets idle for LinkIdle, now rather
// than at the sender's next minute: tests call it after moving the clock.
func (r *Relay) ExpireLinks() {
	for _, u := range *r.ups.Load() {
		u.expireLinks()
	}
}

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535
