package relay

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
)

// upstream is one network server of the relay. Its sender goroutine owns
// the sending; its resolver goroutine owns DNS; each gateway socket has a
// reader goroutine for what the server sends back.
type upstream struct {
	r     *Relay
	name  string // "host:port" or "host:up/down"
	host  string
	port  uint16 // PUSH_DATA goes here
	down  uint16 // PULL_DATA and TX_ACK go here (the forwarder's serv_port_down)
	queue chan relayDatagram
	// resolveNow asks the resolver for a new lookup; capacity 1, so that
	// asking never blocks and asks do not pile up.
	resolveNow chan struct{}
	// firstResolved is closed by the first successful lookup: until then
	// the sender waits for it (bounded), so the datagrams of a forwarder
	// that starts with the agent are not lost to a lookup still running.
	firstResolved chan struct{}
	waitedFirst   bool // the sender waited for firstResolved once; sendLoop only
	done          chan struct{}
	wg            sync.WaitGroup

	mu           sync.Mutex // guards everything below
	started      bool
	stopped      bool
	addr         netip.AddrPort
	links        map[lorawan.EUI64]*upLink
	lastResolved time.Time
	resolveErr   string
	lastSent     time.Time
	lastAck      time.Time
	lastPullResp time.Time
	sent         uint64
	acks         uint64
	pullResps    uint64
	// unanswered datagrams since the last answer, and when the first of
	// them was sent: the basis of the up/down state and re-resolution.
	unanswered int
	since      time.Time
	lastAsked  time.Time // last time a re-resolution was asked for
}

// upLink is the socket an upstream sees one gateway through.
type upLink struct {
	eui     lorawan.EUI64
	conn    *net.UDPConn
	lastUse time.Time
	// token of the last PULL_RESP that arrived through this socket: the
	// TX_ACK echoing it belongs to this upstream only.
	token    [2]byte
	hasToken bool
}

func newUpstream(r *Relay, name string) *upstream {
	host, up, down, _ := SplitUpstream(name) // checked by CheckUpstream
	return &upstream{
		r: r, name: name, host: host, port: up, down: down,
		queue:         make(chan relayDatagram, relayQueueLen),
		resolveNow:    make(chan struct{}, 1),
		firstResolved: make(chan struct{}),
		done:          make(chan struct{}),
		links:         make(map[lorawan.EUI64]*upLink),
	}
}

func (u *upstream) start() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.started || u.stopped {
		return
	}
	u.started = true
	u.wg.Add(2)
	go u.sendLoop()
	go u.resolveLoop()
}

// stop closes the sockets and waits for the goroutines.
func (u *upstream) stop() {
	u.mu.Lock()
	if u.stopped {
		u.mu.Unlock()
		return
	}
	u.stopped = true
	close(u.done)
	for eui, l := range u.links {
		l.conn.Close()
		delete(u.links, eui)
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// enqueue never blocks: a full queue means the upstream is slower than the
// gateway, and dropping is what the lossy protocol expects.
func (u *upstream) enqueue(d relayDatagram) {
	select {
	case u.queue <- d:
	default:
		u.r.metrics.drop("queue_full")
	}
}

// tokenOwner tells whether this upstream sent the PULL_RESP a TX_ACK with
// token acknowledges, and through which gateway's socket.
func (u *upstream) tokenOwner(eui lorawan.EUI64, hasEUI bool, token [2]byte) (lorawan.EUI64, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if hasEUI {
		l := u.links[eui]
		return eui, l != nil && l.hasToken && l.token == token
	}
	for e, l := range u.links {
		if l.hasToken && l.token == token {
			return e, true
		}
	}
	return lorawan.EUI64{}, false
}

func (u *upstream) sendLoop() {
	defer u.wg.Done()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-u.done:
			return
		case d := <-u.queue:
			u.send(d)
		case <-tick.C:
			u.expireLinks()
		}
	}
}

func (u *upstream) send(d relayDatagram) {
	select {
	case <-u.firstResolved:
	default:
		if u.waitedFirst {
			break // waited once already: a name that does not resolve must not stall every datagram
		}
		u.waitedFirst = true
		t := time.NewTimer(relayResolveTimeout)
		select {
		case <-u.firstResolved:
		case <-u.done:
		case <-t.C:
		}
		t.Stop()
	}
	now := u.r.cfg.Now()
	u.mu.Lock()
	addr := u.addr
	if !addr.IsValid() {
		u.mu.Unlock()
		u.r.metrics.drop("unresolved")
		return
	}
	l, err := u.linkLocked(d.eui, now)
	u.mu.Unlock()
	if err != nil {
		u.r.metrics.drop("socket_error")
		u.r.cfg.Log.Warn(addr, "Cannot open a relay socket", "upstream", u.name, "error", err.Error())
		return
	}
	dst := addr
	if d.typ != gwmp.PushData {
		// The forwarder's sock_down: the server keys its downlink path
		// by where PULL_DATA arrives.
		dst = netip.AddrPortFrom(addr.Addr(), u.down)
	}
	if _, err := l.conn.WriteToUDPAddrPort(d.b, dst); err != nil {
		u.r.metrics.drop("send_error")
		u.r.cfg.Log.Warn(addr, "Failed to relay datagram", "upstream", u.name, "error", err.Error())
		return
	}
	u.r.metrics.sent.Inc()
	if d.typ == gwmp.TXAck {
		u.r.metrics.txAcks.Inc()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sent++
	u.lastSent = now
	// Only PUSH_DATA and PULL_DATA are acknowledged.
	if d.typ == gwmp.PushData || d.typ == gwmp.PullData {
		if u.unanswered == 0 {
			u.since = now
		}
		u.unanswered++
	}
	if u.downLocked(now) && now.Sub(u.lastAsked) >= u.r.cfg.Timeout {
		u.lastAsked = now
		select {
		case u.resolveNow <- struct{}{}:
		default:
		}
	}
}

// downLocked: unresolved, or Unanswered datagrams went unanswered for
// longer than UpstreamTimeout.
func (u *upstream) downLocked(now time.Time) bool {
	return !u.addr.IsValid() ||
		(u.unanswered >= Unanswered && now.Sub(u.since) >= u.r.cfg.Timeout)
}

// linkLocked returns the gateway's socket, opening it if needed.
func (u *upstream) linkLocked(eui lorawan.EUI64, now time.Time) (*upLink, error) {
	if l := u.links[eui]; l != nil {
		l.lastUse = now
		return l, nil
	}
	if u.stopped {
		return nil, net.ErrClosed
	}
	if len(u.links) >= MaxLinks {
		var oldest *upLink
		for _, l := range u.links {
			if oldest == nil || l.lastUse.Before(oldest.lastUse) {
				oldest = l
			}
		}
		oldest.conn.Close()
		delete(u.links, oldest.eui)
	}
	// An ephemeral port on every address: the port stays for the life of
	// the socket whatever the upstream resolves to.
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, err
	}
	l := &upLink{eui: eui, conn: conn, lastUse: now}
	u.links[eui] = l
	u.wg.Add(1)
	go u.readLoop(l)
	return l, nil
}

func (u *upstream) expireLinks() {
	now := u.r.cfg.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	for eui, l := range u.links {
		if now.Sub(l.lastUse) >= LinkIdle {
			l.conn.Close()
			delete(u.links, eui)
		}
	}
}

// readLoop handles what the upstream sends to one gateway's socket.
func (u *upstream) readLoop(l *upLink) {
	defer u.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-u.done:
				return
			case <-time.After(100 * time.Millisecond): // do not spin
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		u.handleReply(l, buf[:n], src)
	}
}

func (u *upstream) handleReply(l *upLink, b []byte, src netip.AddrPort) {
	m := u.r.metrics
	u.mu.Lock()
	addr := u.addr
	u.mu.Unlock()
	// The socket is unconnected: accept only the upstream's host, so that
	// nobody else can inject downlinks. The port is not compared, as some
	// servers answer from another port.
	if src.Addr() != addr.Addr() {
		m.drop("unknown_source")
		u.r.cfg.Log.Warn(src, "Dropped datagram on relay socket", "reason", "unknown_source", "upstream", u.name)
		return
	}
	h, err := gwmp.ParseHeader(b)
	if err != nil {
		m.drop("bad_packet")
		u.r.cfg.Log.Warn(src, "Dropped datagram from upstream", "reason", gwmp.Reason(err), "upstream", u.name)
		return
	}
	now := u.r.cfg.Now()
	switch h.Type {
	case gwmp.PushAck, gwmp.PullAck:
		m.acks.Inc()
		u.mu.Lock()
		u.acks++
		u.lastAck, u.unanswered = now, 0
		u.mu.Unlock()
	case gwmp.PullResp:
		u.mu.Lock()
		u.pullResps++
		u.lastPullResp, u.unanswered = now, 0
		l.token, l.hasToken = h.Token, true
		u.mu.Unlock()
		u.r.downlink(l.eui, b, src)
	default:
		m.drop("unexpected_type")
		u.r.cfg.Log.Warn(src, "Dropped datagram from upstream", "reason", "unexpected_type",
			"type", h.Type.String(), "upstream", u.name)
	}
}

// downlink passes an upstream's PULL_RESP to the gateway: from the server's
// socket to the gateway's last PULL_DATA address, in its protocol version.
func (r *Relay) downlink(eui lorawan.EUI64, b []byte, src netip.AddrPort) {
	addr, version, ok := r.gws.DownlinkPath(eui)
	if !ok {
		r.metrics.drop("no_downlink_path")
		r.cfg.Log.Warn(src, "Dropped downlink", "reason", "no_downlink_path", "gateway_eui", strings.ToUpper(eui.String()))
		return
	}
	out := make([]byte, len(b))
	copy(out, b)
	out[0] = version
	if version == gwmp.Version1 {
		out[1], out[2] = 0, 0 // unused in version 1
	}
	// The hook sees the downlink before the gateway does: a join-accept
	// must be known before the device can answer it (the hook is quick:
	// one AES decryption at most).
	if hook := r.cfg.OnDownlink; hook != nil {
		var p gwmp.PullRespPacket
		if err := p.UnmarshalBinary(b); err == nil {
			hook(eui, p.Payload.TXPK)
		}
	}
	if err := r.gws.SendTo(addr, out); err != nil {
		r.metrics.drop("downlink_send_error")
		r.cfg.Log.Warn(addr, "Failed to send downlink", "gateway_eui", strings.ToUpper(eui.String()), "error", err.Error())
		return
	}
	r.metrics.downlinks.Inc()
}

// resolveLoop resolves the name at start, then whenever the sender asks,
// retrying failures with a backoff up to UpstreamTimeout.
func (u *upstream) resolveLoop() {
	defer u.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-u.done
		cancel()
	}()
	backoff := time.Second
	for {
		if u.resolve(ctx) {
			backoff = time.Second
			select {
			case <-u.done:
				return
			case <-u.resolveNow:
			}
			continue
		}
		select {
		case <-u.done:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, max(time.Second, u.r.cfg.Timeout))
	}
}

func (u *upstream) resolve(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, relayResolveTimeout)
	defer cancel()
	ips, err := u.r.cfg.LookupNetIP(ctx, "ip", u.host)
	var addr netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		// Prefer IPv4: gateway backhauls are often IPv4 only.
		if !addr.IsValid() || (ip.Is4() && !addr.Is4()) {
			addr = ip
		}
	}
	if err == nil && !addr.IsValid() {
		err = errors.New("no address")
	}
	now := u.r.cfg.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.r.metrics.resolveErr.Inc()
		u.resolveErr = err.Error()
		if !u.stopped {
			u.r.cfg.Logger.Warn("Cannot resolve upstream", "upstream", u.name, "error", err.Error())
		}
		return false
	}
	u.r.metrics.resolveOK.Inc()
	next := netip.AddrPortFrom(addr, u.port)
	if next != u.addr && u.addr.IsValid() {
		u.r.cfg.Logger.Info("Upstream moved", "upstream", u.name, "from", u.addr.String(), "to", next.String())
	}
	u.addr, u.lastResolved, u.resolveErr = next, now, ""
	select {
	case <-u.firstResolved:
	default:
		close(u.firstResolved)
	}
	// Give the (new) address a fresh chance before asking again.
	u.unanswered = 0
	return true
}

func (u *upstream) status(now time.Time) UpstreamStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := UpstreamStatus{
		Address: u.name, ResolvedAddr: u.addr, LastResolved: u.lastResolved, ResolveError: u.resolveErr,
		State: "up", LastSent: u.lastSent, LastAck: u.lastAck, LastPullResp: u.lastPullResp,
		Sent: u.sent, Acks: u.acks, PullResps: u.pullResps, Gateways: len(u.links),
	}
	if u.downLocked(now) {
		s.State = "down"
	}
	return s
}
