package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/uplink"
)

// startAPI binds the local API. A bind failure stops the start: an agent
// whose status cannot be read is one a technician cannot fix.
func (a *Agent) startAPI() error {
	cfg := a.config()
	if cfg.API.Bind == "" {
		return nil
	}
	srv, err := api.Start(a, api.Options{Bind: cfg.API.Bind, Token: cfg.API.Token, Hosts: cfg.API.Hosts, CAFileDir: cfg.API.CAFileDir, Events: a.events, Logger: a.log.With("component", "api")})
	if err != nil {
		return err
	}
	a.api = srv
	return nil
}

func (a *Agent) stopAPI(ctx context.Context) {
	if a.api != nil {
		_ = a.api.Close(ctx)
	}
}

// Config is the configuration in force.
func (a *Agent) Config() *config.Config { return a.config() }

// UpdateConnections changes the connections through the local API: the new
// list is validated with the whole configuration, written back to the file
// (comments, devices and other sections kept), then applied with Reload.
// Writing first means an accepted change survives a restart; if Reload then
// fails, the file is put back. With built-in defaults (no file) the change
// lives in memory until the agent stops.
func (a *Agent) UpdateConnections(ctx context.Context, change func([]config.Connection) ([]config.Connection, error)) (api.Update, error) {
	a.updateMu.Lock()
	defer a.updateMu.Unlock()
	cur := a.config()
	conns, err := change(slices.Clone(cur.Connections))
	if err != nil {
		return api.Update{}, err
	}
	next := *cur
	next.Connections = conns
	next.Complete()
	warns, err := next.Check()
	var cerr *config.Error
	if errors.As(err, &cerr) {
		// Problems outside connections were there when the file was loaded
		// (Check in code sees less than Parse); they are not this change's.
		var mine []config.Problem
		for _, p := range cerr.Problems {
			if strings.HasPrefix(p.Path, "connections") {
				mine = append(mine, p)
			}
		}
		if len(mine) > 0 {
			return api.Update{}, &config.Error{Problems: mine}
		}
	} else if err != nil {
		return api.Update{}, err
	}
	if next.Path != "" {
		if err := config.SaveConnections(next.Path, next.Connections); err != nil {
			return api.Update{}, fmt.Errorf("the change was not applied: %w", err)
		}
	}
	if err := a.Reload(ctx, &next); err != nil {
		if next.Path != "" {
			if rerr := config.SaveConnections(next.Path, cur.Connections); rerr != nil {
				a.log.Error("cannot put the configuration file back after a failed change", "config", next.Path, "err", rerr)
			}
		}
		return api.Update{}, fmt.Errorf("the change was not applied: %w", err)
	}
	return api.Update{Connections: slices.Clone(next.Connections), Saved: next.Path, Warnings: warns}, nil
}

// ConnectionStates tells what each configured connection is doing.
func (a *Agent) ConnectionStates() map[string]api.ConnectionState {
	now := a.opts.Now()
	out := map[string]api.ConnectionState{}
	if a.delivery != nil {
		for _, s := range a.delivery.Status() {
			out[s.ID] = connectionState(s, now)
		}
	}
	a.startMu.Lock()
	defer a.startMu.Unlock()
	for _, c := range a.config().Connections {
		st, ok := out[c.ID]
		if !ok && !c.IsActive() && a.store != nil {
			// A deactivated connection has no lane; its backlog waits on flash.
			q := a.store.Stats(c.ID)
			st = api.ConnectionState{State: "DEACTIVATED", Backlog: q.Count, BacklogBytes: q.Bytes, DeadLetters: q.DeadLetters}
			if !q.Oldest.IsZero() {
				st.OldestAge = now.Sub(q.Oldest).Round(time.Second).String()
			}
			ok = true
		}
		if t, has := a.startups[c.ID]; has && c.IsActive() {
			st.StartupTime = &t
		}
		if ok {
			out[c.ID] = st
		}
	}
	return out
}

// noteStartups records when each connection's delivery (re)started, for
// IoT Flow's startupTime: changed connections restart, removed ones go.
func (a *Agent) noteStartups(cfg *config.Config, changed []config.Connection) {
	now := a.opts.Now()
	a.startMu.Lock()
	defer a.startMu.Unlock()
	if a.startups == nil {
		a.startups = map[string]time.Time{}
	}
	keep := map[string]bool{}
	for _, c := range cfg.Connections {
		keep[c.ID] = true
	}
	for id := range a.startups {
		if !keep[id] {
			delete(a.startups, id)
		}
	}
	for _, c := range changed {
		a.startups[c.ID] = now
	}
}

// DeadLetters lists a connection's dead letters with what identifies each
// uplink.
func (a *Agent) DeadLetters(id string) ([]api.DeadLetter, error) {
	dls, err := a.store.DeadLetters(id)
	if err != nil {
		return nil, err
	}
	out := make([]api.DeadLetter, 0, len(dls))
	for _, d := range dls {
		v := api.DeadLetter{Seq: d.Seq, Time: d.Time, At: d.At, Reason: d.Reason, Size: len(d.Data)}
		var up uplink.Uplink
		if err := up.UnmarshalBinary(d.Data); err == nil {
			v.DevEUI, v.FCnt, v.FPort = strings.ToUpper(up.DevEUI.String()), up.FCnt, up.FPort
		}
		out = append(out, v)
	}
	return out, nil
}

// ReplayDeadLetters queues dead letters again and wakes the connection's
// delivery, which would otherwise not look at its queue until the next
// uplink arrives.
func (a *Agent) ReplayDeadLetters(id string, seqs []uint64) (int, error) {
	n, err := a.store.Replay(id, seqs)
	if n > 0 {
		a.delivery.Wake(id, n)
	}
	return n, err
}

// WriteMetrics writes every counter and gauge in Prometheus text format.
func (a *Agent) WriteMetrics(w io.Writer) { a.set.WritePrometheus(w) }

// APIAddr is the address the local API listens on, "" when it is off.
func (a *Agent) APIAddr() string {
	if a.api == nil {
		return ""
	}
	return a.api.Addr().String()
}
