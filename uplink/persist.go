package uplink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/brocaar/lorawan"
)

// SessionStore keeps device records across restarts. The agent implements
// it on the buffer's file, so that this package needs no storage of its own.
type SessionStore interface {
	// SaveSessions writes the records in one commit; a nil record deletes.
	SaveSessions(ctx context.Context, recs map[lorawan.EUI64][]byte) error
	// LoadSessions returns every record saved.
	LoadSessions() (map[lorawan.EUI64][]byte, error)
}

// A device's record holds its active session (keys and counter state) and
// the sessions pending from join-accepts. Keys are stored, like the
// configuration, in a file only root reads; they never leave it otherwise.
//
//	version(1)=1 | flags(1) | [active] | npending(1) | npending × (pflags(1) DevAddr(4) NwkSKey(16) AppSKey(16))
//	active: DevAddr(4) NwkSKey(16) AppSKey(16) FCnt(4, BE) | [lowSet(2) lowMICs(16×4) if flagLow]
//	        | [prevSet(2) prevMICs(16×4) if flagLowPrev]
//	pflags: bit 0 set for a LoRaWAN 1.1 session
const (
	recVersion   = 1
	flagActive   = 1 << 0 // an active session follows
	flagLearnt   = 1 << 1 // it was learnt from a join
	flagHasFCnt  = 1 << 2 // its counter is known
	flagLow      = 1 << 3 // RelaxFCnt state follows
	flag11       = 1 << 4 // the active session is LoRaWAN 1.1
	flagLowPrev  = 1 << 5 // RelaxFCnt state of the previous counter session follows
	sessKeysSize = 4 + 16 + 16
)

var errBadRecord = errors.New("uplink: bad session record")

// record encodes a device's state, or returns nil when there is none left
// to keep (the device was removed). Callers hold s.mu.
func (s *Sessions) record(e lorawan.EUI64) []byte {
	active := s.learnt[e]
	if active == nil {
		active = s.abp[e]
	}
	pend := s.pending[e]
	if active == nil && len(pend) == 0 {
		return nil
	}
	var r savedState
	if active != nil {
		a := active.Session
		r.active, r.learnt = &a, active.learnt
		st := active.st
		st.mu.Lock()
		r.has, r.fcnt = st.has, st.fcnt
		if active.RelaxFCnt {
			r.low, r.lowSet, r.lowMICs = true, st.lowSet, st.lowMICs
			r.prevSet, r.prevMICs = st.prevSet, st.prevMICs
		}
		st.mu.Unlock()
	}
	for _, p := range pend {
		r.pending = append(r.pending, p.Session)
	}
	return encodeRecord(r)
}

// encodeRecord is decodeRecord's inverse: decoding and encoding again gives
// the same bytes, which is what lets a counter delta be checked (see
// applyDelta).
func encodeRecord(r savedState) []byte {
	b := []byte{recVersion, 0}
	if a := r.active; a != nil {
		b[1] |= flagActive
		if r.learnt {
			b[1] |= flagLearnt
		}
		if a.LoRaWAN11 {
			b[1] |= flag11
		}
		if r.has {
			b[1] |= flagHasFCnt
		}
		b = appendKeys(b, *a)
		b = binary.BigEndian.AppendUint32(b, r.fcnt)
		if r.low {
			b[1] |= flagLow
			b = appendLow(b, r.lowSet, r.lowMICs)
			if r.prevSet != 0 {
				b[1] |= flagLowPrev
				b = appendLow(b, r.prevSet, r.prevMICs)
			}
		}
	}
	b = append(b, byte(len(r.pending)))
	for _, p := range r.pending {
		var pf byte
		if p.LoRaWAN11 {
			pf = 1
		}
		b = appendKeys(append(b, pf), p)
	}
	return b
}

func appendKeys(b []byte, s Session) []byte {
	b = append(b, s.DevAddr[:]...)
	b = append(b, s.NwkSKey[:]...)
	return append(b, s.AppSKey[:]...)
}

type savedState struct {
	active      *Session
	learnt, has bool
	fcnt        uint32
	low         bool
	lowSet      uint16
	lowMICs     [relaxResetMax]lorawan.MIC
	prevSet     uint16
	prevMICs    [relaxResetMax]lorawan.MIC
	pending     []Session
}

// lowSize is the size of one counter session's RelaxFCnt state.
const lowSize = 2 + 4*relaxResetMax

func appendLow(b []byte, set uint16, mics [relaxResetMax]lorawan.MIC) []byte {
	b = binary.BigEndian.AppendUint16(b, set)
	for _, m := range mics {
		b = append(b, m[:]...)
	}
	return b
}

// readLow reads what appendLow wrote; b is at least lowSize long.
func readLow(b []byte) (uint16, [relaxResetMax]lorawan.MIC, []byte) {
	var mics [relaxResetMax]lorawan.MIC
	set, b := binary.BigEndian.Uint16(b), b[2:]
	for i := range mics {
		copy(mics[i][:], b[:4])
		b = b[4:]
	}
	return set, mics, b
}

func decodeRecord(e lorawan.EUI64, b []byte) (savedState, error) {
	var r savedState
	if len(b) < 3 || b[0] != recVersion {
		return r, errBadRecord
	}
	flags, b := b[1], b[2:]
	keys := func() (Session, bool) {
		if len(b) < sessKeysSize {
			return Session{}, false
		}
		s := Session{DevEUI: e}
		copy(s.DevAddr[:], b[0:4])
		copy(s.NwkSKey[:], b[4:20])
		copy(s.AppSKey[:], b[20:36])
		b = b[sessKeysSize:]
		return s, true
	}
	if flags&flagActive != 0 {
		s, ok := keys()
		if !ok || len(b) < 4 {
			return r, errBadRecord
		}
		s.LoRaWAN11 = flags&flag11 != 0
		r.active, r.learnt, r.has = &s, flags&flagLearnt != 0, flags&flagHasFCnt != 0
		r.fcnt, b = binary.BigEndian.Uint32(b), b[4:]
		if flags&flagLow != 0 {
			if len(b) < lowSize {
				return r, errBadRecord
			}
			r.low = true
			r.lowSet, r.lowMICs, b = readLow(b)
			if flags&flagLowPrev != 0 {
				if len(b) < lowSize {
					return r, errBadRecord
				}
				r.prevSet, r.prevMICs, b = readLow(b)
			}
		}
	}
	if len(b) < 1 {
		return r, errBadRecord
	}
	n, b := int(b[0]), b[1:]
	if n > maxPending {
		return r, errBadRecord
	}
	for range n {
		if len(b) < 1 || b[0] > 1 {
			return r, errBadRecord
		}
		v11 := b[0] == 1
		b = b[1:]
		s, ok := keys()
		if !ok {
			return r, errBadRecord
		}
		s.LoRaWAN11 = v11
		r.pending = append(r.pending, s)
	}
	if len(b) != 0 {
		return r, errBadRecord
	}
	return r, nil
}

// Restore applies saved records: learnt sessions (active and pending) come
// back with their counters; a configured session gets its counter back
// when its DevAddr and keys are those saved (else it is a new session).
// Call it after Set and before the Joiner's SetDevices, which drops what
// belongs to devices no longer configured for OTAA. It returns how many
// devices were restored, and the DevEUIs of records it could not read.
func (s *Sessions) Restore(recs map[lorawan.EUI64][]byte) (int, []lorawan.EUI64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	var bad []lorawan.EUI64
	for e, b := range recs {
		r, err := decodeRecord(e, b)
		if err != nil {
			bad = append(bad, e)
			continue
		}
		var st *devState
		if a := r.active; a != nil && r.learnt {
			ns, err := newSession(*a)
			if err != nil {
				bad = append(bad, e)
				continue
			}
			ns.learnt = true
			s.learnt[e] = ns
			st = ns.st
		} else if a != nil {
			if c := s.abp[e]; c != nil && c.DevAddr == a.DevAddr && c.NwkSKey == a.NwkSKey && c.AppSKey == a.AppSKey {
				st = c.st
			}
		}
		if st != nil && r.has {
			st.mu.Lock()
			if !st.has || r.fcnt >= st.fcnt {
				st.has, st.fcnt = true, r.fcnt
				if r.low {
					st.lowSet, st.lowMICs = r.lowSet, r.lowMICs
					st.prevSet, st.prevMICs = r.prevSet, r.prevMICs
				}
			}
			st.mu.Unlock()
		}
		var ps []*session
		for _, p := range r.pending {
			ns, err := newSession(p)
			if err != nil {
				continue
			}
			ns.learnt, ns.pending = true, true
			ps = append(ps, ns)
		}
		if len(ps) > 0 {
			s.pending[e] = ps
		}
		n++
	}
	s.rebuild()
	return n, bad
}

// PersistOptions tune a Persister.
type PersistOptions struct {
	// Interval is the longest a counter change waits to be written
	// (default 1 min). Session changes (a join, a promotion) are written
	// at once; Flush writes everything pending.
	Interval time.Duration
}

const defaultPersistInterval = time.Minute

// Persister writes the devices' changed records to a SessionStore: new
// sessions at once, counters in batches (one commit per interval for all
// devices, to spare flash), and everything on Flush.
//
// Replays across restarts. A restarted agent accepts only counters above
// the saved one, so what matters is how far the saved counter can lag:
//
//   - On a clean stop, Run saves everything: no lag.
//   - With buffer.persist "always" the agent saves with every datagram's
//     uplinks, in their own commit (FlushWith), and acknowledges the
//     PUSH_DATA after it: no acknowledged uplink's counter is ever lost, so
//     none can be accepted twice.
//   - With "on-outage" (the default, to spare flash) counters are saved at
//     most every Interval. After a crash or power cut the saved counter may
//     lag by up to Interval's worth of uplinks, and a replay of one of
//     those frames, recorded and sent again on purpose, would be accepted
//     once; the device's next genuine uplink closes the window. Ordinary
//     duplicates (other gateways, a retransmission) arrive within seconds
//     and are caught by the de-duplication window before the crash, or are
//     frames the crashed agent never delivered. The operator who needs the
//     stronger guarantee chooses "always", as for the uplinks themselves.
//
// New sessions are saved at once in either mode: their keys exist nowhere
// else, and the device would otherwise be lost until it joins again.
//
// Counter deltas. When the store is a CounterStore, a device whose session
// is unchanged since its full record was saved has only its counter state
// written, as a delta beside the full records, in a place the store writes
// cheaply (the agent: a bucket small enough that bbolt keeps it inside a
// page every commit writes anyway). Once the deltas would outgrow that
// room, and when Run stops, they are folded: the full records of their
// devices are written and the deltas dropped, in one commit. Load applies
// each delta to its full record. A full record is never written without
// dropping its device's delta in the same commit, so a delta always
// belongs to the full record beside it.
type Persister struct {
	s     *Sessions
	store SessionStore
	cs    CounterStore // store, when it keeps deltas; else nil
	log   *slog.Logger
	every time.Duration
	mu    sync.Mutex // one save at a time, so a later state never lands first

	// Under mu, with cs: what the store holds. saved is each device's full
	// record, deltas its counter delta; room and perDelta the store's room.
	saved          map[lorawan.EUI64][]byte
	deltas         map[lorawan.EUI64][]byte
	room, perDelta int
	mustFold       bool // a save failed, or Load found a stray delta
}

// NewPersister returns a Persister; Run starts its loop.
func NewPersister(s *Sessions, store SessionStore, opts PersistOptions, logger *slog.Logger) *Persister {
	if opts.Interval <= 0 {
		opts.Interval = defaultPersistInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Persister{s: s, store: store, log: logger, every: opts.Interval}
	if cs, ok := store.(CounterStore); ok {
		p.cs = cs
		p.room, p.perDelta = cs.DeltaRoom()
		p.saved, p.deltas = map[lorawan.EUI64][]byte{}, map[lorawan.EUI64][]byte{}
	}
	return p
}

// Load reads the saved records and restores them into the Sessions.
func (p *Persister) Load() (int, error) {
	var recs map[lorawan.EUI64][]byte
	var err error
	if p.cs != nil {
		recs, err = p.loadCounters()
	} else {
		recs, err = p.store.LoadSessions()
	}
	if err != nil {
		return 0, err
	}
	n, bad := p.s.Restore(recs)
	for _, e := range bad {
		p.log.Warn("Saved session state unreadable; the device starts afresh", "dev_eui", HexUpper(e[:]))
	}
	return n, nil
}

// Run saves until ctx ends, then saves once more.
func (p *Persister) Run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := p.flush(context.WithoutCancel(ctx), true, nil); err != nil {
				p.log.Error("Cannot save device sessions at shutdown", "err", err)
			}
			return
		case <-t.C:
		case <-p.s.dirty.urgent:
		}
		if err := p.Flush(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("Cannot save device sessions; will retry", "err", err)
		}
	}
}

// Flush writes every changed record now, in one commit.
func (p *Persister) Flush(ctx context.Context) error {
	return p.flush(ctx, false, nil)
}

// FlushWith is Flush through the caller's commit, so that the records
// share a transaction with the caller's own writes (the agent: a
// datagram's uplinks, which are acknowledged once both are on flash).
// commit gets what is to be saved, in the CounterStore's terms (without
// one, only Records), must write it in one transaction and return the
// outcome. It is called exactly once, with an empty save when nothing
// changed, so the caller's writes can always go through it. If it fails,
// the records are saved again next time. It runs under the Persister's
// lock: saves land in the order they were taken.
func (p *Persister) FlushWith(ctx context.Context, commit func(context.Context, CounterSave) error) error {
	return p.flush(ctx, false, commit)
}

// flush is Flush, or FlushWith when commit is not nil; fold also folds the
// counter deltas (at stop), so that the full records alone are the state.
func (p *Persister) flush(ctx context.Context, fold bool, commit func(context.Context, CounterSave) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	es := p.s.dirty.take()
	pendingFold := p.cs != nil && (p.mustFold || fold && len(p.deltas) > 0)
	if len(es) == 0 && !pendingFold {
		if commit != nil {
			return commit(ctx, CounterSave{})
		}
		return nil
	}
	recs := make(map[lorawan.EUI64][]byte, len(es))
	p.s.mu.Lock()
	for _, e := range es {
		recs[e] = p.s.record(e)
	}
	p.s.mu.Unlock()
	if p.cs != nil {
		if err := p.saveCounters(ctx, recs, fold, commit); err != nil {
			p.s.dirty.putBack(es)
			return err
		}
		return nil
	}
	var err error
	if commit != nil {
		err = commit(ctx, CounterSave{Records: recs})
	} else if err = p.store.SaveSessions(ctx, recs); err != nil {
		err = fmt.Errorf("saving %d device records: %w", len(recs), err)
	}
	if err != nil {
		p.s.dirty.putBack(es)
	}
	return err
}
