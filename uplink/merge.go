package uplink

import (
	"sync"
	"time"

	"github.com/brocaar/lorawan"
)

// Merger gathers the receptions of frames heard again after their uplink
// was decoded — another antenna or gateway in a later datagram, a second
// source — so that the uplink is delivered once with every reception in
// Lrrs. The decoder feeds it (DecoderOptions.OnDuplicate); delivery holds
// each uplink for a short window, then calls Apply before sending it.
type Merger struct {
	mu      sync.Mutex // guards everything that follows
	pending map[mergeKey]*mergeEntry
	sweep   time.Time
	now     func() time.Time
}

type mergeKey struct {
	dev  lorawan.EUI64
	fcnt uint32
}

type mergeEntry struct {
	recs []Reception
	at   time.Time
}

// mergeKeep bounds how long receptions wait for their uplink; an uplink
// is sent within its merge window, so anything older is for an uplink
// already gone.
const mergeKeep = time.Minute

// maxMerged bounds the uplinks with extra receptions held at once, so a
// flood of repeats cannot grow memory.
const maxMerged = 4096

// NewMerger returns an empty Merger; now nil means time.Now.
func NewMerger(now func() time.Time) *Merger {
	if now == nil {
		now = time.Now
	}
	return &Merger{pending: map[mergeKey]*mergeEntry{}, now: now}
}

// Add keeps receptions of the uplink (devEUI, fcnt).
func (m *Merger) Add(devEUI lorawan.EUI64, fcnt uint32, recs []Reception) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.sweep) {
		for k, e := range m.pending {
			if now.Sub(e.at) > mergeKeep {
				delete(m.pending, k)
			}
		}
		m.sweep = now.Add(mergeKeep / 4)
	}
	k := mergeKey{devEUI, fcnt}
	e := m.pending[k]
	if e == nil {
		if len(m.pending) >= maxMerged {
			return
		}
		e = &mergeEntry{at: now}
		m.pending[k] = e
	}
	e.recs = append(e.recs, recs...)
}

// Apply adds the kept receptions to u (none twice: the same gateway
// antenna is kept once), best first. They are kept for a minute, so a retry
// of the same uplink gets them again.
func (m *Merger) Apply(u *Uplink) {
	m.mu.Lock()
	var recs []Reception
	// Mostly nothing is kept (one gateway): then no lookup, whose key is
	// hashed generically, about 200 instructions per uplink on 32-bit ARM.
	if len(m.pending) > 0 {
		if e := m.pending[mergeKey{u.DevEUI, u.FCnt}]; e != nil {
			recs = append(recs, e.recs...)
		}
	}
	m.mu.Unlock()
	for _, r := range recs {
		dup := false
		for _, have := range u.Receptions {
			if have.GatewayEUI == r.GatewayEUI && have.Antenna == r.Antenna && have.Channel == r.Channel {
				dup = true
				break
			}
		}
		if !dup {
			u.Receptions = append(u.Receptions, r)
		}
	}
	// Best first: insertion sort, a handful of receptions.
	rs := u.Receptions
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && (rs[j].RSSI > rs[j-1].RSSI || rs[j].RSSI == rs[j-1].RSSI && rs[j].SNR > rs[j-1].SNR); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}
