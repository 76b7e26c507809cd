package agent

import (
	"cmp"
	"fmt"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/config"
	"edgeflow/packetfwd/gwmp"
	"edgeflow/packetfwd/semtech"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
	"edgeflow/uplink/delivery"
)

// connections builds a connector for each connection. An inactive one gets
// a lane too: it queues uplinks and sends none, so that its backlog is kept
// and shown (DEACTIVATED) until it is active again.
func (a *Agent) connections(conns []config.Connection) ([]delivery.Connection, error) {
	var out []delivery.Connection
	for _, c := range conns {
		conn, err := a.connector(c)
		if err != nil {
			return nil, fmt.Errorf("connection %q: %w", c.Name, err)
		}
		out = append(out, delivery.Connection{ID: c.ID, Name: c.Name, Connector: conn,
			UplinkTimeValidity: time.Duration(c.Configuration.UplinkTimeValidity),
			Reconnect:          delivery.ReconnectStrategy(c.Configuration.ReconnectStrategy),
			Inactive:           !c.IsActive()})
	}
	return out, nil
}

// connector builds the connector of c. Nothing is connected here: the lane
// connects on its first send, so a broker that is down does not stop the
// agent from starting.
func (a *Agent) connector(c config.Connection) (connector.Connector, error) {
	cc := c.Configuration
	log := a.log.With("connection", c.Name)
	switch c.ConnectorID {
	case config.ConnectorHTTP:
		hc := connector.HTTPConfig{
			URL:         c.URL(),
			Timeout:     a.config().Delivery.Timeout.Std(),
			Headers:     cc.Headers,
			CustomerID:  cc.CustomerID,
			UserAgent:   "edgeflow/" + a.opts.Version,
			Now:         a.opts.Now,
			Proxy:       cc.Proxy.URL(),
			Concurrency: a.config().Delivery.Concurrency,
			BeforeTLS:   a.opts.TLSRoots,
		}
		if cc.CAFile != "" {
			pool, err := config.LoadCAFile(cc.CAFile)
			if err != nil {
				return nil, err
			}
			hc.RootCAs = pool
		}
		if cc.LRCCompliance {
			hc.LRC = &connector.LRCConfig{ASID: cmp.Or(cc.ASID, config.DefaultASID),
				LrnInfos: cmp.Or(cc.LrnInfos, a.config().Gateway.ID), Key: cc.TunnelInterfaceAuthenticationKey}
		}
		return connector.NewHTTP(hc, log)
	case config.ConnectorMQTT:
		return connector.NewMQTT(connector.MQTTConfig{
			HostName:       cc.HostName,
			Protocol:       cc.MQTTProtocol(),
			Username:       cc.Username,
			Password:       cc.Password,
			TrustedCA:      cc.TrustedCACertificate,
			Certificate:    cc.Certificate,
			PrivateKey:     cc.PrivateKey,
			Topic:          cmp.Or(cc.UplinkTopicPattern, config.DefaultMQTTTopicPattern),
			ConnectTimeout: millis(cc.ConnectionTimeout, config.DefaultMQTTConnectionTimeout),
			ActionTimeout:  millis(cc.ActionTimeout, config.DefaultMQTTActionTimeout),
			CustomerID:     cc.CustomerID,
			BeforeTLS:      a.opts.TLSRoots,
		}, log)
	}
	return nil, fmt.Errorf("connector %q is not supported", c.ConnectorID)
}

// tlsRoots makes sure the system's roots, or the fallback, are there for
// a TLS client about to be built (Options.TLSRoots).
func (a *Agent) tlsRoots() {
	if a.opts.TLSRoots != nil {
		a.opts.TLSRoots()
	}
}

// millis turns IoT Flow's millisecond timeouts into a duration.
func millis(ms, def int) time.Duration {
	if ms <= 0 {
		ms = def
	}
	return time.Duration(ms) * time.Millisecond
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
func udpConfig(cfg *config.Config, now func() time.Time, onDownlink func(lorawan.EUI64, gwmp.TXPK)) semtech.Config {
	c := semtech.Config{Bind: cfg.PacketForwarder.UDP.Bind, Now: now,
		Upstreams: cfg.PacketForwarder.UDP.Upstreams, OnDownlink: onDownlink,
		Allow: cfg.PacketForwarder.UDP.AllowPrefixes(), GatewayEUIs: cfg.PacketForwarder.UDP.GatewayEUIList(),
		RateLimit: rateLimit(cfg.PacketForwarder.UDP.RateLimit)}
	g := cfg.Gateway
	if g.Latitude != nil && g.Longitude != nil {
		c.Position = &semtech.Position{Latitude: *g.Latitude, Longitude: *g.Longitude}
		if g.Altitude != nil {
			c.Position.Altitude = *g.Altitude
		}
	}
	return c
}
