package uplink

import (
	"slices"
	"sync"

	"github.com/brocaar/lorawan"
)

// maxPending bounds the sessions waiting for a device's first uplink: one
// per join-accept seen (a lost accept makes the device join again, and a
// LoRaWAN 1.0 accept does not say which DevNonce it answers).
const maxPending = 4

// addPending adds a session learnt from a join-accept. It replaces the
// device's active session only when an uplink verifies with it (promote):
// the device may never have received the accept. A session equal to one
// already pending is not added twice.
func (s *Sessions) addPending(d Session) error {
	ns, err := newSession(d)
	if err != nil {
		return err
	}
	ns.learnt, ns.pending = true, true
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.pending[d.DevEUI]
	for _, p := range ps {
		if p.DevAddr == d.DevAddr && p.NwkSKey == d.NwkSKey && p.AppSKey == d.AppSKey {
			return nil
		}
	}
	if len(ps) >= maxPending {
		ps = ps[1:] // the oldest accept is the least likely to be in use
	}
	s.pending[d.DevEUI] = append(slices.Clone(ps), ns)
	s.rebuild()
	s.dirty.mark(d.DevEUI, true)
	return nil
}

// promote makes a pending session, with which an uplink just verified, the
// device's active one, and forgets the device's other pending sessions. It
// reports false when the session is no longer pending (a reload removed
// the device meanwhile).
func (s *Sessions) promote(p *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.pending[p.DevEUI]
	found := false
	for _, x := range ps {
		found = found || x == p
	}
	if !found {
		return false
	}
	active := *p // the table is shared with readers: copy, never write
	active.pending = false
	s.learnt[p.DevEUI] = &active
	delete(s.pending, p.DevEUI)
	s.rebuild()
	s.dirty.mark(p.DevEUI, true)
	return true
}

// retainJoined drops the learnt and pending sessions of devices that are
// no longer configured for OTAA.
func (s *Sessions) retainJoined(keep func(lorawan.EUI64) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for e := range s.learnt {
		if !keep(e) {
			delete(s.learnt, e)
			s.dirty.mark(e, true)
			changed = true
		}
	}
	for e := range s.pending {
		if !keep(e) {
			delete(s.pending, e)
			s.dirty.mark(e, true)
			changed = true
		}
	}
	if changed {
		s.rebuild()
	}
}

// dirtySet is the devices whose state changed since the last save. A
// session change is urgent (its keys exist nowhere else); a counter that
// moved is saved with the next batch.
type dirtySet struct {
	mu     sync.Mutex
	m      map[lorawan.EUI64]struct{}
	urgent chan struct{} // has a value when an urgent change waits
}

func (d *dirtySet) init() {
	d.m = map[lorawan.EUI64]struct{}{}
	d.urgent = make(chan struct{}, 1)
}

func (d *dirtySet) mark(e lorawan.EUI64, urgent bool) {
	d.mu.Lock()
	d.m[e] = struct{}{}
	d.mu.Unlock()
	if urgent {
		select {
		case d.urgent <- struct{}{}:
		default:
		}
	}
}

// take empties the set and returns what was in it.
func (d *dirtySet) take() []lorawan.EUI64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) == 0 {
		return nil
	}
	out := make([]lorawan.EUI64, 0, len(d.m))
	for e := range d.m {
		out = append(out, e)
	}
	clear(d.m)
	return out
}

// putBack returns devices whose save failed, to be tried again.
func (d *dirtySet) putBack(es []lorawan.EUI64) {
	d.mu.Lock()
	for _, e := range es {
		d.m[e] = struct{}{}
	}
	d.mu.Unlock()
}
