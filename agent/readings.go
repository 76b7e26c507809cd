package agent

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/agent/api"
	"edgeflow/agent/history"
	"edgeflow/config"
	"edgeflow/lpp"
	"edgeflow/uplink"
)

// backlogSample is how often each connection's backlog is sampled for
// the chart (each minute keeps its highest sample).
const backlogSample = 15 * time.Second

// recent is what the agent heard lately, in memory: each device's last
// payload (for its readings) and the charts' history.
type recent struct {
	hist *history.History

	mu    sync.Mutex // guards last, names and buf
	last  map[lorawan.EUI64]*lastPayload
	names map[lorawan.EUI64]string // EUIs as the API writes them, made once
	// The gateway named last, nearly always the next: an EUI64 key is
	// hashed generically, about 150 instructions per uplink on 32-bit ARM.
	lastGW     lorawan.EUI64
	lastGWName string
	buf        []history.Uplink // reused by record

	formats atomic.Pointer[formats]
	sampled atomic.Int64 // agent clock (ns) of the last backlog sample
}

type lastPayload struct {
	fport   uint8
	payload []byte
	// name is the device's EUI as the API writes it: kept here, a
	// device's uplink costs one map lookup, not two.
	name string
}

// formats is the payload format of each device under one configuration.
type formats struct {
	cfg     *config.Config
	byEUI   map[lorawan.EUI64]string
	cayenne bool // an active connection has brand CAYENNE
}

func newRecent() *recent {
	return &recent{hist: history.New(history.Options{}), last: map[lorawan.EUI64]*lastPayload{}, names: map[lorawan.EUI64]string{}}
}

// maxNames bounds the EUI name cache (devices and gateways heard); beyond
// it names are made each time.
const maxNames = 4096

func (r *recent) name(eui lorawan.EUI64) string {
	if n, ok := r.names[eui]; ok {
		return n
	}
	n := strings.ToUpper(eui.String())
	if len(r.names) < maxNames {
		r.names[eui] = n
	}
	return n
}

// record notes decoded uplinks; it runs on the frame path, so it reuses
// its buffers (no allocation once every device was heard) and takes each
// lock once per batch.
func (r *recent) record(now *time.Time, ups []uplink.Uplink) {
	if len(ups) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cap(r.buf) < len(ups) {
		r.buf = append(r.buf[:cap(r.buf)], make([]history.Uplink, len(ups)-cap(r.buf))...)
	}
	hs := r.buf[:len(ups)]
	for i := range ups {
		u := &ups[i]
		lp := r.last[u.DevEUI]
		if lp == nil {
			lp = &lastPayload{name: r.name(u.DevEUI)}
			r.last[u.DevEUI] = lp
		}
		lp.fport, lp.payload = u.FPort, append(lp.payload[:0], u.Payload...)
		h := &hs[i]
		h.Device, h.Gateways, h.RSSI, h.SNR = lp.name, h.Gateways[:0], 0, 0
		for j := range u.Receptions {
			rc := &u.Receptions[j]
			if j == 0 {
				h.RSSI, h.SNR = rc.RSSI, rc.SNR
			}
			if rc.GatewayEUI != r.lastGW || r.lastGWName == "" {
				r.lastGW, r.lastGWName = rc.GatewayEUI, r.name(rc.GatewayEUI)
			}
			h.Gateways = append(h.Gateways, r.lastGWName)
		}
	}
	r.hist.Uplinks(*now, hs)
}

// lastOf returns a copy of the device's last payload.
func (r *recent) lastOf(eui lorawan.EUI64) (uint8, []byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lp := r.last[eui]
	if lp == nil {
		return 0, nil, false
	}
	return lp.fport, append([]byte(nil), lp.payload...), true
}

func (r *recent) formatsFor(cfg *config.Config) *formats {
	if f := r.formats.Load(); f != nil && f.cfg == cfg {
		return f
	}
	f := &formats{cfg: cfg, byEUI: map[lorawan.EUI64]string{}}
	for _, d := range cfg.Devices {
		if d.PayloadFormat != "" && d.PayloadFormat != config.PayloadAuto {
			f.byEUI[d.DevEUI] = d.PayloadFormat
		}
	}
	for _, c := range cfg.Connections {
		if c.IsActive() && strings.EqualFold(c.Brand, config.BrandCayenne) {
			f.cayenne = true
		}
	}
	r.formats.Store(f)
	return f
}

// readings decodes a payload for people. Cayenne LPP is tried when the
// device says its payloads are LPP, or, left to auto, when they go to
// Cayenne, which reads them as LPP; only a payload that is LPP throughout
// gives readings. note says why a payload meant to be LPP is not.
func (f *formats) readings(eui lorawan.EUI64, payload []byte) (rs []api.Reading, note string) {
	format := f.byEUI[eui]
	switch {
	case format == config.PayloadHex, len(payload) == 0:
		return nil, ""
	case format == "" && !f.cayenne:
		return nil, ""
	}
	got, err := lpp.Decode(payload)
	if err != nil {
		if format == config.PayloadCayenneLPP {
			return nil, err.Error()
		}
		return nil, ""
	}
	rs = make([]api.Reading, len(got))
	for i, g := range got {
		rs[i] = api.Reading{Channel: g.Channel, Type: g.Type, Name: g.Name, Value: g.Value, Unit: g.Unit, Text: g.String()}
	}
	return rs, ""
}

// withPayload adds the device's last payload and its readings.
func (a *Agent) withPayload(v *api.DeviceState, eui lorawan.EUI64, f *formats) {
	fport, payload, ok := a.recent.lastOf(eui)
	if !ok {
		return
	}
	v.FPort = &fport
	v.PayloadHex = hex.EncodeToString(payload)
	v.Readings, v.PayloadNote = f.readings(eui, payload)
}

// sampleBacklogs feeds the backlog chart until ctx ends.
func (a *Agent) sampleBacklogs(ctx context.Context) {
	t := time.NewTicker(backlogSample)
	defer t.Stop()
	for {
		a.sampleBacklogsOnce()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleBacklogsDue samples when the last sample is backlogSample old on
// the agent's clock; handleFrames calls it, so that the chart follows a
// burst between two ticks (and an injected clock).
func (a *Agent) sampleBacklogsDue(now *time.Time) {
	last := a.recent.sampled.Load()
	if now.UnixNano()-last < int64(backlogSample) || !a.recent.sampled.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	a.sampleBacklogsOnce()
}

func (a *Agent) sampleBacklogsOnce() {
	now := a.opts.Now()
	a.recent.sampled.Store(now.UnixNano())
	for id, st := range a.ConnectionStates() {
		a.recent.hist.Backlog(now, id, st.Backlog)
	}
}

// History is GET /history: the charts' series with the names the
// configuration gives; devices and connections no longer configured are
// left out.
func (a *Agent) History(minutes int) api.History {
	cfg := a.config()
	snap := a.recent.hist.Snapshot(a.opts.Now(), minutes)
	out := api.History{Now: snap.Now, Start: snap.Start, Step: int(snap.Step / time.Second)}
	names := map[string]string{}
	for _, d := range cfg.Devices {
		names[strings.ToUpper(d.DevEUI.String())] = d.Name
	}
	for _, s := range snap.Devices {
		name, ok := names[s.ID]
		if !ok {
			continue
		}
		hs := api.HistorySeries{ID: s.ID, Name: name, Uplinks: s.Values, Signal: make([][3]float64, len(s.Signal))}
		for i, p := range s.Signal {
			hs.Signal[i] = [3]float64{float64(p.Time.Unix()), p.RSSI, p.SNR}
		}
		out.Devices = append(out.Devices, hs)
	}
	for _, s := range snap.Gateways {
		out.Gateways = append(out.Gateways, api.HistorySeries{ID: s.ID, Uplinks: s.Values})
	}
	conns := map[string]string{}
	for _, c := range cfg.Connections {
		conns[c.ID] = c.Name
	}
	for _, s := range snap.Connections {
		name, ok := conns[s.ID]
		if !ok {
			continue
		}
		hs := api.HistorySeries{ID: s.ID, Name: name, Backlog: make([]*int64, len(s.Values))}
		for i, v := range s.Values {
			if v >= 0 {
				hs.Backlog[i] = &v
			}
		}
		out.Connections = append(out.Connections, hs)
	}
	return out
}
