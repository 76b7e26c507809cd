package agent

import (
	"os"
	"strings"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/packetfwd/semtech"
	"edgeflow/uplink"
	"edgeflow/uplink/delivery"
)

// Status gathers what GET /status answers and `edgeflow status` prints.
func (a *Agent) Status() api.Status {
	now := a.opts.Now()
	cfg := a.config()
	s := api.Status{
		Version: a.opts.Version,
		Config:  configName(cfg),
		Started: a.started,
		Uptime:  now.Sub(a.started).Round(time.Second).String(),
		Buffer:  api.BufferStatus{Path: cfg.Buffer.Path, Persist: cfg.Buffer.Persist, MaxSize: int64(cfg.Buffer.MaxSize)},
		Devices: a.Devices(),

		UnknownDevAddrs: a.UnknownDevAddrs(),
		LastReload:      a.LastReload(),
	}
	if fi, err := os.Stat(cfg.Buffer.Path); err == nil {
		s.Buffer.Size = fi.Size()
	}
	if a.udp != nil {
		s.Sources = append(s.Sources, api.Source{Type: "udp", Addr: a.udp.Addr().String(), State: "listening"})
		for _, u := range a.udp.Upstreams() {
			s.Sources = append(s.Sources, api.Source{Type: "upstream", Addr: u.Address, State: u.State, LastSeen: timePtr(u.LastAck), Error: u.ResolveError})
		}
		for _, g := range a.udp.Gateways() {
			s.Gateways = append(s.Gateways, gatewayStatus(g))
		}
	}
	if a.mqtt != nil {
		m := a.mqtt.Status()
		src := api.Source{Type: "mqtt", Addr: config.RedactURL(m.Server), State: "disconnected", LastSeen: timePtr(m.LastMessage)}
		if m.Connected {
			src.State = "connected"
		}
		s.Sources = append(s.Sources, src)
	}
	states := a.ConnectionStates()
	for _, c := range cfg.Connections {
		st, ok := states[c.ID]
		if !ok {
			st.State = delivery.StateOpening
		}
		s.Connections = append(s.Connections, api.ConnectionStatus{ID: c.ID, Name: c.Name, ConnectorID: c.ConnectorID, Active: c.IsActive(), ConnectionState: st})
	}
	return s
}

func connectionState(c delivery.Status, now time.Time) api.ConnectionState {
	// Go's HTTP errors quote the whole URL, credentials in the query included.
	cs := api.ConnectionState{State: c.State, Reason: c.Reason, Delivered: c.Delivered, LastError: config.Redact(c.LastError),
		Backlog: c.Backlog, BacklogBytes: c.BacklogBytes, DeadLetters: c.DeadLetters}
	if !c.LastDelivery.IsZero() {
		t := c.LastDelivery
		cs.LastDelivery = &t
	}
	if !c.LastErrorTime.IsZero() {
		t := c.LastErrorTime
		cs.LastErrorTime = &t
	}
	if !c.Oldest.IsZero() {
		cs.OldestAge = now.Sub(c.Oldest).Round(time.Second).String()
	}
	return cs
}

func gatewayStatus(g semtech.GatewayStatus) api.Gateway {
	out := api.Gateway{EUI: strings.ToUpper(g.EUI.String()), PushData: g.PushDataCount, PullData: g.PullDataCount, RXPK: g.RXPKCount}
	if !g.LastPushData.IsZero() {
		t := g.LastPushData
		out.LastPushData, out.PushAddr = &t, g.PushAddr.String()
	}
	if !g.LastPullData.IsZero() {
		t := g.LastPullData
		out.LastPullData, out.PullAddr = &t, g.PullAddr.String()
	}
	if g.HasPosition {
		out.Position = &api.Position{Latitude: g.Latitude, Longitude: g.Longitude, Altitude: g.Altitude}
	}
	return out
}

// Devices lists the configured devices with what the agent heard of each;
// keys are never included.
func (a *Agent) Devices() []api.DeviceState {
	known := map[string]uplink.DeviceState{}
	if a.sessions != nil {
		for _, d := range a.sessions.Snapshot() {
			known[strings.ToUpper(d.DevEUI.String())] = d
		}
	}
	var rejected map[lorawan.EUI64]uplink.Rejection
	if a.decoder != nil {
		rejected = a.decoder.Rejections()
	}
	var out []api.DeviceState
	f := a.recent.formatsFor(a.config())
	for _, d := range a.config().Devices {
		eui := strings.ToUpper(d.DevEUI.String())
		v := api.DeviceState{DevEUI: eui, Name: d.Name, Activation: activation(d)}
		if d.ABP {
			v.DevAddr = strings.ToUpper(d.DevAddr.String())
		}
		if st, ok := known[eui]; ok {
			v.SessionKnown = true
			v.DevAddr = strings.ToUpper(st.DevAddr.String())
			v.Uplinks = st.Uplinks
			if st.HasFCnt {
				f := st.FCnt
				v.FCnt = &f
			}
			if !st.LastUplink.IsZero() {
				t, rssi, snr := st.LastUplink, st.RSSI, st.SNR
				v.LastUplink, v.RSSI, v.SNR = &t, &rssi, &snr
			}
		}
		a.withPayload(&v, d.DevEUI, f)
		if r, ok := rejected[d.DevEUI]; ok {
			v.LastRejection = &api.Rejection{Reason: r.Reason, Hint: uplink.Hint(r.Reason), Time: r.At, Count: r.Count, FCnt16: r.FCnt16}
		}
		out = append(out, v)
	}
	return out
}

// UnknownDevAddrs lists the addresses heard that no device has, most
// recently heard first.
func (a *Agent) UnknownDevAddrs() []api.UnknownDevAddr {
	out := []api.UnknownDevAddr{}
	if a.decoder == nil {
		return out
	}
	for _, u := range a.decoder.UnknownAddrs() {
		out = append(out, api.UnknownDevAddr{DevAddr: uplink.HexUpper(u.DevAddr[:]), Count: u.Count, LastHeard: u.Last,
			BestRSSI: u.BestRSSI, Gateway: uplink.HexUpper(u.Gateway[:]), Hint: uplink.HintUnknown})
	}
	return out
}

func activation(d config.Device) string {
	if d.ABP {
		return "ABP"
	}
	return "OTAA"
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
