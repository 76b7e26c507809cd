package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// Connection is one delivery target: its queue id, name, connector and the
// age past which its uplinks are no longer worth sending.
type Connection struct {
	ID                 string
	Name               string
	Connector          connector.Connector
	UplinkTimeValidity time.Duration
	// Reconnect paces retries by an IoT Flow reconnect strategy
	// (ReconnectStrategy); nil keeps the fast backoff of Options.
	Reconnect Schedule
	// Inactive queues the connection's uplinks and sends none: IoT Flow's
	// "active": false, with the backlog kept for when it is active again.
	// Its status is DEACTIVATED.
	Inactive bool
}

// connector wraps c's connector for its reconnect strategy or its being
// inactive.
func (c Connection) connector(now func() time.Time) connector.Connector {
	switch {
	case c.Inactive:
		return &paused{inner: c.Connector}
	case len(c.Reconnect) > 0:
		return &scheduled{inner: c.Connector, sched: c.Reconnect, now: now}
	}
	return c.Connector
}

// Manager owns one lane per connection.
type Manager struct {
	store Store
	opts  Options
	log   *slog.Logger
	met   *metrics

	mu    sync.RWMutex
	lanes []*lane
	ctx   context.Context
}

// NewManager builds the engine on a store; set may be nil.
func NewManager(store Store, opts Options, log *slog.Logger, set *vm.Set) *Manager {
	opts.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = vm.NewSet()
	}
	return &Manager{store: store, opts: opts, log: log, met: &metrics{set: set}}
}

// Start starts a lane for each connection.
func (m *Manager) Start(ctx context.Context, conns []Connection) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx = ctx
	for _, c := range conns {
		l := newLane(c.ID, c.Name, c.connector(m.opts.Now), m.store, &m.opts, c.UplinkTimeValidity, m.log, m.met)
		m.lanes = append(m.lanes, l)
		l.start(ctx)
	}
}

// Enqueue hands the uplinks of one datagram to every connection. With
// PersistAlways it returns once they are committed to flash, so the caller
// may acknowledge them to the packet forwarder.
func (m *Manager) Enqueue(ctx context.Context, ups []uplink.Uplink) error {
	return m.EnqueueWith(ctx, ups, nil)
}

// EnqueueWith is Enqueue with the caller's own writes: b (nil for none)
// is committed in the same transaction as the uplinks' appends for every
// connection, so that after a crash both are on flash or neither (the
// agent's frame counters). b is used up. In memory (PersistOnOutage) the
// uplinks take no flash write and b is committed alone.
func (m *Manager) EnqueueWith(ctx context.Context, ups []uplink.Uplink, b *buffer.Batch) error {
	m.mu.RLock()
	lanes := m.lanes
	m.mu.RUnlock()
	if m.opts.Persist != PersistAlways || len(ups) == 0 {
		for _, l := range lanes {
			l.offer(ups)
		}
		return m.store.Commit(ctx, b)
	}
	if b == nil {
		b = new(buffer.Batch)
	}
	data := make([][]byte, len(ups))
	for i := range ups {
		data[i] = encodeRecord(&ups[i])
	}
	for _, l := range lanes {
		recs := make([]buffer.Record, len(ups))
		for i := range ups {
			recs[i] = buffer.Record{Time: ups[i].ReceivedAt, Data: data[i]}
		}
		b.Append(l.id, recs)
	}
	if err := m.store.Commit(ctx, b); err != nil {
		return err
	}
	for _, l := range lanes {
		l.appended(len(ups))
	}
	return nil
}

// Add starts a lane for a new connection, or replaces the lane of a
// connection with the same ID (its queue, and so its backlog, is kept).
func (m *Manager) Add(c Connection) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, l := range m.lanes {
		if l.id == c.ID {
			_ = l.stop(context.Background())
			m.lanes = append(m.lanes[:i:i], m.lanes[i+1:]...)
			break
		}
	}
	l := newLane(c.ID, c.Name, c.connector(m.opts.Now), m.store, &m.opts, c.UplinkTimeValidity, m.log, m.met)
	m.lanes = append(m.lanes, l)
	l.start(m.ctx)
}

// Remove stops a connection's lane. Its queue stays in the buffer; the
// caller decides whether to delete it.
func (m *Manager) Remove(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, l := range m.lanes {
		if l.id == id {
			_ = l.stop(context.Background())
			m.lanes = append(m.lanes[:i:i], m.lanes[i+1:]...)
			return true
		}
	}
	return false
}

// Wake tells connection id's lane that n records were put in its queue
// behind its back (dead letters replayed), so it delivers them now rather
// than when the next uplink arrives.
func (m *Manager) Wake(id string, n int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, l := range m.lanes {
		if l.id == id {
			// Replayed dead letters are old uplinks from the buffer: Late.
			l.replayed(n)
			return
		}
	}
}

// Status returns every connection's status.
func (m *Manager) Status() []Status {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Status, 0, len(m.lanes))
	for _, l := range m.lanes {
		s := l.snapshot()
		// The lane knows only that its connector does not answer; why is
		// the connector's to say.
		switch c := l.conn.(type) {
		case *paused:
			s.State = StateDeactivated
		case *scheduled:
			if c.isClosed() {
				s.State = StateClosed
			}
		}
		out = append(out, s)
	}
	return out
}

// Stop stops every lane and writes what is still in memory to flash.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	lanes := m.lanes
	m.lanes = nil
	m.mu.Unlock()
	// Together: each may wait for a send in flight.
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for i, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.stop(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
