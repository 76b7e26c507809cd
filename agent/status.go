package agent

import (
	"time"

	"edgeflow/uplink/delivery"
)

// Status is what GET /status answers: enough for a technician to tell in
// seconds whether uplinks reach the cloud, and why not.
type Status struct {
	Version     string             `json:"version"`
	Started     time.Time          `json:"started"`
	Uptime      string             `json:"uptime"`
	Connections []ConnectionStatus `json:"connections"`
	Buffer      BufferStatus       `json:"buffer"`
}

// ConnectionStatus is one connection's delivery state.
type ConnectionStatus struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	State         string     `json:"state"`
	Delivered     uint64     `json:"delivered"`
	LastDelivery  *time.Time `json:"lastDelivery,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	LastErrorTime *time.Time `json:"lastErrorTime,omitempty"`
	Backlog       int        `json:"backlog"`
	BacklogBytes  int64      `json:"backlogBytes"`
	OldestAge     string     `json:"oldestAge,omitempty"`
	DeadLetters   int        `json:"deadLetters"`
}

// BufferStatus describes the buffer file.
type BufferStatus struct {
	Path    string `json:"path"`
	Persist string `json:"persist"`
}

// Status gathers the agent's status.
func (a *Agent) Status() Status {
	now := a.opts.Now()
	cfg := a.config()
	s := Status{
		Version: a.opts.Version,
		Started: a.started,
		Uptime:  now.Sub(a.started).Round(time.Second).String(),
		Buffer:  BufferStatus{Path: cfg.Buffer.Path, Persist: cfg.Buffer.Persist},
	}
	if a.delivery != nil {
		for _, c := range a.delivery.Status() {
			s.Connections = append(s.Connections, connectionStatus(c, now))
		}
	}
	return s
}

func connectionStatus(c delivery.Status, now time.Time) ConnectionStatus {
	cs := ConnectionStatus{ID: c.ID, Name: c.Name, State: c.State, Delivered: c.Delivered, LastError: c.LastError,
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
