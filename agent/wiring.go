package agent

import (
	"fmt"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/config"
	"edgeflow/packetfwd"
	"edgeflow/packetfwd/gwmp"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
	"edgeflow/uplink/delivery"
)

// connections builds a connector for each active connection.
func (a *Agent) connections(conns []config.Connection) ([]delivery.Connection, error) {
	var out []delivery.Connection
	for _, c := range conns {
		if !c.IsActive() {
			continue
		}
		switch c.ConnectorID {
		case config.ConnectorHTTP:
			h, err := connector.NewHTTP(connector.HTTPConfig{
				URL:       c.URL(),
				Timeout:   a.config().Delivery.Timeout.Std(),
				Headers:   c.Configuration.Headers,
				UserAgent: "edgeflow/" + a.opts.Version,
			}, a.log.With("connection", c.Name))
			if err != nil {
				return nil, fmt.Errorf("connection %q: %w", c.Name, err)
			}
			out = append(out, delivery.Connection{ID: c.ID, Name: c.Name, Connector: h,
				UplinkTimeValidity: time.Duration(c.Configuration.UplinkTimeValidity)})
		default:
			return nil, fmt.Errorf("connection %q: connector %q is not supported", c.Name, c.ConnectorID)
		}
	}
	return out, nil
}

func sessionsFromConfig(devs []config.Device) []uplink.Session {
	var out []uplink.Session
	for _, d := range devs {
		if !d.ABP {
			continue
		}
		out = append(out, uplink.Session{DevEUI: d.DevEUI, DevAddr: d.DevAddr, NwkSKey: d.NwkSKey, AppSKey: d.AppSKey, RelaxFCnt: d.RelaxFCnt})
	}
	return out
}

// udpConfig configures the packet forwarder listener; onDownlink sees the
// downlinks relayed from the upstream network servers (join-accepts).
func udpConfig(cfg *config.Config, now func() time.Time, onDownlink func(lorawan.EUI64, gwmp.TXPK)) packetfwd.UDPConfig {
	c := packetfwd.UDPConfig{Bind: cfg.PacketForwarder.UDP.Bind, Now: now,
		Upstreams: cfg.PacketForwarder.UDP.Upstreams, OnDownlink: onDownlink,
		Allow: cfg.PacketForwarder.UDP.AllowPrefixes(), GatewayEUIs: cfg.PacketForwarder.UDP.GatewayEUIList(),
		RateLimit: rateLimit(cfg.PacketForwarder.UDP.RateLimit)}
	g := cfg.Gateway
	if g.Latitude != nil && g.Longitude != nil {
		c.Position = &packetfwd.Position{Latitude: *g.Latitude, Longitude: *g.Longitude}
		if g.Altitude != nil {
			c.Position.Altitude = *g.Altitude
		}
	}
	return c
}
