package semtech

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
)

// GatewayStatus is what the server knows about one gateway (one EUI).
type GatewayStatus struct {
	EUI lorawan.EUI64

	LastPushData time.Time      // agent clock
	LastPullData time.Time      // agent clock; zero if it never sent one
	PushAddr     netip.AddrPort // source of the last PUSH_DATA
	// PullAddr is the source of the last PULL_DATA: where PULL_ACK and any
	// PULL_RESP must go (the forwarder's second socket).
	PullAddr netip.AddrPort
	// ProtocolVersion is the version of the last PULL_DATA, else of the last
	// PUSH_DATA; replies and downlinks must use it.
	ProtocolVersion uint8

	PushDataCount uint64
	PullDataCount uint64
	RXPKCount     uint64 // rxpk received, dropped ones included

	// From the last stat report.
	LastStat    time.Time // agent clock; zero if none yet
	StatTime    time.Time // the gateway's own clock; zero if absent or bad
	HasPosition bool
	Latitude    float64
	Longitude   float64
	Altitude    float64
	RXNb        uint32
	RXOK        uint32
	RXFW        uint32
	ACKR        float64
	DWNb        uint32
	TXNb        uint32
	Temperature *float64 // °C, when reported
}

// DownlinkPath is where downlinks for a gateway go, and in which version.
type DownlinkPath struct {
	Addr     netip.AddrPort
	Version  uint8
	LastSeen time.Time
}

// registry holds the gateways seen, bounded so that spoofed EUIs cannot
// exhaust memory: when full, the gateway heard from longest ago goes.
type registry struct {
	max int

	mu  sync.Mutex // guards gws, last
	gws map[lorawan.EUI64]*GatewayStatus
	// last is the entry returned last, nearly always the next one asked
	// for (most agents hear one gateway): an EUI64 key is hashed
	// generically, about 150 instructions per datagram on 32-bit ARM.
	// nil after a delete.
	last *GatewayStatus
}

func newRegistry(max int) *registry {
	return &registry{max: max, gws: make(map[lorawan.EUI64]*GatewayStatus)}
}

func lastSeen(g *GatewayStatus) time.Time {
	if g.LastPullData.After(g.LastPushData) {
		return g.LastPullData
	}
	return g.LastPushData
}

// getLocked returns eui's entry, creating it if needed.
func (r *registry) getLocked(eui lorawan.EUI64) *GatewayStatus {
	if g := r.last; g != nil && g.EUI == eui {
		return g
	}
	if g := r.gws[eui]; g != nil {
		r.last = g
		return g
	}
	if len(r.gws) >= r.max {
		var oldest *GatewayStatus
		for _, g := range r.gws {
			if oldest == nil || lastSeen(g).Before(lastSeen(oldest)) {
				oldest = g
			}
		}
		delete(r.gws, oldest.EUI)
	}
	g := &GatewayStatus{EUI: eui}
	r.gws[eui] = g
	r.last = g
	return g
}

// pushData records a PUSH_DATA and its stat, and returns the gateway's
// position as last reported.
func (r *registry) pushData(p *gwmp.PushDataPacket, src *netip.AddrPort, now *time.Time) (pos Position, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.getLocked(p.GatewayEUI)
	g.LastPushData, g.PushAddr = *now, *src
	if g.LastPullData.IsZero() {
		g.ProtocolVersion = p.Version
	}
	g.PushDataCount++
	g.RXPKCount += uint64(len(p.Payload.RXPK))
	if s := p.Payload.Stat; s != nil {
		g.LastStat, g.StatTime = *now, s.Time.Time
		g.RXNb, g.RXOK, g.RXFW, g.ACKR, g.DWNb, g.TXNb = s.RXNb, s.RXOK, s.RXFW, s.ACKR, s.DWNb, s.TXNb
		g.Temperature = nil
		if s.Temp != nil {
			t := *s.Temp
			g.Temperature = &t
		}
		// A stat without a fix keeps the last known position: gateways
		// rarely move, and GPS fixes come and go.
		if lat, lon, alt, ok := s.Position(); ok {
			g.HasPosition, g.Latitude, g.Longitude, g.Altitude = true, lat, lon, alt
		}
	}
	return Position{g.Latitude, g.Longitude, g.Altitude}, g.HasPosition
}

func (r *registry) pullData(eui lorawan.EUI64, version uint8, src netip.AddrPort, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.getLocked(eui)
	g.LastPullData, g.PullAddr, g.ProtocolVersion = now, src, version
	g.PullDataCount++
}

func (r *registry) downlinkPath(eui lorawan.EUI64) (DownlinkPath, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gws[eui]
	if g == nil || g.LastPullData.IsZero() {
		return DownlinkPath{}, false
	}
	return DownlinkPath{Addr: g.PullAddr, Version: g.ProtocolVersion, LastSeen: g.LastPullData}, true
}

func (r *registry) list() []GatewayStatus {
	r.mu.Lock()
	out := make([]GatewayStatus, 0, len(r.gws))
	for _, g := range r.gws {
		c := *g
		if g.Temperature != nil {
			t := *g.Temperature
			c.Temperature = &t
		}
		out = append(out, c)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b GatewayStatus) int { return slices.Compare(a.EUI[:], b.EUI[:]) })
	return out
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.gws)
}
