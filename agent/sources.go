package agent

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"edgeflow/config"
	"edgeflow/packetfwd/bridge"
	"edgeflow/packetfwd/semtech"
	"edgeflow/radio"
)

// running is the frame sources while they run.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when every Run has returned
	err    error         // the first source's failure; read after done
}

// listenUDP binds the packet forwarder's socket: a port in use fails the
// start before "edgeflow started".
func (a *Agent) listenUDP(cfg *config.Config) error {
	udp, err := semtech.Listen(udpConfig(cfg, a.opts.Now, a.onDownlink), radio.HandlerFunc(a.handleFrames), a.log.With("component", "packetfwd"), a.set)
	if err != nil {
		return fmt.Errorf("packet forwarder listener: %w", err)
	}
	a.udp = udp
	a.sources = append(a.sources, udp)
	return nil
}

// openMQTT prepares the subscription to a gateway bridge's broker when one
// is configured. The broker may be down at boot: the source connects in
// the background once running, and only a wrong configuration fails the
// start.
func (a *Agent) openMQTT(cfg *config.Config) error {
	m := cfg.PacketForwarder.MQTT
	if m == nil || m.Server == "" {
		return nil
	}
	if !plainMQTT(m.Server) {
		a.tlsRoots()
	}
	src, err := bridge.Open(bridge.Config{
		Server:   m.Server,
		Topics:   m.Topics,
		Username: m.Username,
		Password: m.Password,
		CAFile:   m.CAFile,
		Now:      a.opts.Now,
		// The join-accepts a network server sends through the bridge.
		OnDownlink: a.onBridgeDownlink,
	}, radio.HandlerFunc(a.handleFrames), a.log.With("component", "mqtt"), a.set)
	if err != nil {
		return fmt.Errorf("MQTT source %s: %w", config.RedactURL(m.Server), err)
	}
	a.mqtt = src
	a.sources = append(a.sources, src)
	return nil
}

// plainMQTT tells whether the bridge's broker is reached without TLS
// (tcp://, mqtt://, ws://); anything else may verify against the system's
// roots.
func plainMQTT(server string) bool {
	scheme, _, ok := strings.Cut(server, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "tcp", "mqtt", "ws":
		return true
	}
	return false
}

// closeSources releases the sources that never ran (a start that failed
// after binding them).
func (a *Agent) closeSources() {
	for _, s := range a.sources {
		if c, ok := s.(io.Closer); ok {
			c.Close()
		}
	}
}

// runSources runs every source until ctx ends or Stop; the first that
// fails stops the others, and Run returns its error.
func (a *Agent) runSources(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	a.running = r
	var wg sync.WaitGroup
	var first sync.Once
	for _, s := range a.sources {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil && ctx.Err() == nil {
				first.Do(func() {
					r.err = err
					a.log.Error("a frame source failed; stopping the others", "err", err)
				})
				cancel()
			}
		})
	}
	go func() {
		wg.Wait()
		close(r.done)
	}()
}

// stopSources stops the sources and waits until none calls the handler.
func (a *Agent) stopSources() {
	if a.running == nil {
		return
	}
	a.running.cancel()
	<-a.running.done
}

// rateLimit maps packetForwarder.udp.rateLimit onto the server's limiter:
// 0 keeps its default, -1 switches it off.
func rateLimit(n int) semtech.RateLimit {
	switch {
	case n == 0:
		return semtech.RateLimit{}
	case n < 0:
		return semtech.RateLimit{PerSecond: -1}
	}
	return semtech.RateLimit{PerSecond: float64(n), Burst: 2 * n}
}
