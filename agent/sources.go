package agent

import (
	"context"
	"fmt"

	"edgeflow/config"
	"edgeflow/packetfwd"
	"edgeflow/radio"
)

// startMQTT subscribes to a gateway bridge's broker when one is configured.
// The broker may be down at boot: the source connects in the background and
// only a wrong configuration fails the start.
func (a *Agent) startMQTT(ctx context.Context, cfg *config.Config) error {
	m := cfg.PacketForwarder.MQTT
	if m == nil || m.Server == "" {
		return nil
	}
	a.mqtt = packetfwd.NewMQTTSource(packetfwd.MQTTConfig{
		Server:   m.Server,
		Topics:   m.Topics,
		Username: m.Username,
		Password: m.Password,
		CAFile:   m.CAFile,
		Now:      a.opts.Now,
		// The join-accepts a network server sends through the bridge.
		OnDownlink: a.onBridgeDownlink,
	}, radio.HandlerFunc(a.handleFrames), a.log.With("component", "mqtt"), a.set)
	if err := a.mqtt.Start(ctx); err != nil {
		return fmt.Errorf("MQTT source %s: %w", config.RedactURL(m.Server), err)
	}
	return nil
}

func (a *Agent) stopMQTT() {
	if a.mqtt != nil {
		a.mqtt.Close()
	}
}

// rateLimit maps packetForwarder.udp.rateLimit onto the server's limiter:
// 0 keeps its default, -1 switches it off.
func rateLimit(n int) packetfwd.RateLimit {
	switch {
	case n == 0:
		return packetfwd.RateLimit{}
	case n < 0:
		return packetfwd.RateLimit{PerSecond: -1}
	}
	return packetfwd.RateLimit{PerSecond: float64(n), Burst: 2 * n}
}
