package agent

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"edgeflow/agent/api"
	"edgeflow/config"
)

// ReloadFile reads the configuration file at path, checks it and applies
// it (Reload); why names what asked ("file changed", "SIGHUP"). The
// outcome, with every problem of a file that is not valid, is kept for
// /status: a reload asked by an init script prints nothing anywhere else.
// Warnings come back for the log; an error leaves the running
// configuration in force.
func (a *Agent) ReloadFile(ctx context.Context, path, why string) (*config.Config, []config.Warning, error) {
	if !a.Ready() {
		return nil, nil, errors.New("the agent is starting or stopping; ask for the reload again once it runs")
	}
	cfg, warns, err := config.Load(path)
	if err == nil {
		err = a.Reload(ctx, cfg)
	}
	out := api.ReloadStatus{Time: a.opts.Now(), OK: err == nil, Trigger: why}
	for _, w := range warns {
		out.Warnings = append(out.Warnings, w.Format(path))
	}
	if err != nil {
		var perr *config.Error
		if errors.As(err, &perr) {
			for _, p := range perr.Problems {
				out.Problems = append(out.Problems, p.Format(problemFile(perr, path)))
			}
		} else {
			out.Problems = []string{err.Error()}
		}
	}
	a.lastReload.Store(&out)
	if err != nil {
		return nil, warns, err
	}
	return cfg, warns, nil
}

// LastReload is the outcome of the last ReloadFile, nil before any.
func (a *Agent) LastReload() *api.ReloadStatus { return a.lastReload.Load() }

// Reload applies a new, already validated configuration without a
// restart: connections are added, changed (their backlog kept) or removed,
// devices replaced (each device's frame counter kept while its keys stay
// the same). The buffer is kept. Keys that need a restart are reported.
func (a *Agent) Reload(ctx context.Context, cfg *config.Config) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	old := a.config()
	var restart []string
	if cfg.PacketForwarder.UDP.Bind != old.PacketForwarder.UDP.Bind {
		restart = append(restart, "packetForwarder.udp.bind")
	}
	if !reflect.DeepEqual(cfg.PacketForwarder.MQTT, old.PacketForwarder.MQTT) {
		restart = append(restart, "packetForwarder.mqtt")
	}
	u, ou := cfg.PacketForwarder.UDP, old.PacketForwarder.UDP
	if !reflect.DeepEqual(u.Allow, ou.Allow) || !reflect.DeepEqual(u.GatewayEUIs, ou.GatewayEUIs) || u.RateLimit != ou.RateLimit {
		restart = append(restart, "packetForwarder.udp (allow, gatewayEUIs, rateLimit)")
	}
	if !reflect.DeepEqual(u.Upstreams, ou.Upstreams) && a.udp != nil {
		// Upstreams that stay keep their sockets: their network servers see
		// no change.
		if err := a.udp.SetUpstreams(u.Upstreams); err != nil {
			return fmt.Errorf("packetForwarder.udp.upstreams: %w", err)
		}
	}
	if cfg.Buffer != old.Buffer {
		restart = append(restart, "buffer")
	}
	if !reflect.DeepEqual(cfg.API, old.API) {
		restart = append(restart, "api")
	}
	if cfg.Delivery != old.Delivery {
		restart = append(restart, "delivery")
	}

	// Build every new connector first: a bad one leaves everything as it was.
	oldByID := map[string]config.Connection{}
	for _, c := range old.Connections {
		oldByID[c.ID] = c
	}
	var changed []config.Connection
	newIDs := map[string]bool{}
	for _, c := range cfg.Connections {
		newIDs[c.ID] = true
		if o, ok := oldByID[c.ID]; !ok || !reflect.DeepEqual(o, c) {
			changed = append(changed, c)
		}
	}
	conns, err := a.connections(changed)
	if err != nil {
		return err
	}
	for _, c := range old.Connections {
		if !newIDs[c.ID] {
			a.delivery.Remove(c.ID)
			a.dropQueue(c)
		}
	}
	for _, c := range changed {
		if !c.IsActive() {
			a.delivery.Remove(c.ID) // deactivated: delivery stops, the backlog stays
		}
	}
	for _, c := range conns {
		a.delivery.Add(c)
	}
	if err := a.reloadSessions(cfg); err != nil {
		return err
	}
	a.cfg.Store(cfg)
	a.noteStartups(cfg, changed)
	a.log.Info("configuration reloaded", "connections_changed", len(changed), "connections", len(cfg.Connections), "devices", len(cfg.Devices))
	if len(restart) > 0 {
		a.log.Warn("some changes take effect at the next restart", "keys", fmt.Sprint(restart))
	}
	return nil
}

// dropQueue deletes a removed connection's queue: its uplinks were meant for
// an endpoint that is no longer configured. How many is logged.
func (a *Agent) dropQueue(c config.Connection) {
	n := a.store.Stats(c.ID).Count
	if err := a.store.DeleteQueue(c.ID); err != nil {
		a.log.Error("cannot delete the queue of a removed connection", "connection", c.Name, "err", err)
		return
	}
	if n > 0 {
		a.log.Warn("connection removed; its undelivered uplinks were discarded", "connection", c.Name, "uplinks", n)
	}
}

// problemFile is the file a problem is in: the devices file names itself.
func problemFile(e *config.Error, path string) string {
	if e.File != "" {
		return e.File
	}
	return path
}
