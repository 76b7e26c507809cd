package uplink

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"

	"github.com/brocaar/lorawan"
)

// CounterStore is a SessionStore that also keeps counter deltas beside the
// full records (see Persister). The Persister uses it when the store it is
// given implements it.
type CounterStore interface {
	SessionStore
	// SaveCounters applies save in one commit: all of it or nothing.
	SaveCounters(ctx context.Context, save CounterSave) error
	// LoadCounters returns the full records and the deltas, read together.
	LoadCounters() (recs, deltas map[lorawan.EUI64][]byte, err error)
	// DeltaRoom is how many bytes of deltas the store keeps cheaply, each
	// delta counted as its length plus perDelta. Past it, deltas are folded.
	DeltaRoom() (room, perDelta int)
}

// CounterSave is one save of a CounterStore.
type CounterSave struct {
	// Records are full records; a nil record deletes the device. Writing a
	// device's record, or deleting it, drops its delta.
	Records map[lorawan.EUI64][]byte
	// Deltas are counter deltas, of devices not in Records.
	Deltas map[lorawan.EUI64][]byte
	// Fold drops every delta first: their devices' full records are in
	// Records.
	Fold bool
}

// A counter delta is a device's counter state, to be applied to the active
// session of its full record:
//
//	dflags(1) | FCnt(4, BE) | [lowSet(2) lowMICs(16×4) if dflagLow]
//	          | [prevSet(2) prevMICs(16×4) if dflagLowPrev]
//
// Other bits of dflags are zero; a delta with one set is not understood.
const (
	dflagHasFCnt = 1 << 0
	dflagLow     = 1 << 1
	dflagLowPrev = 1 << 2
	dflagsKnown  = dflagHasFCnt | dflagLow | dflagLowPrev
)

func encodeDelta(r savedState) []byte {
	b := make([]byte, 1, 5)
	if r.has {
		b[0] |= dflagHasFCnt
	}
	b = binary.BigEndian.AppendUint32(b, r.fcnt)
	if r.low {
		b[0] |= dflagLow
		b = appendLow(b, r.lowSet, r.lowMICs)
		if r.prevSet != 0 {
			b[0] |= dflagLowPrev
			b = appendLow(b, r.prevSet, r.prevMICs)
		}
	}
	return b
}

// applyDelta returns the full record rec with its active session's counter
// state replaced by delta's; false if rec has no active session or either
// cannot be read.
func applyDelta(e lorawan.EUI64, rec, delta []byte) ([]byte, bool) {
	r, err := decodeRecord(e, rec)
	if err != nil || r.active == nil || len(delta) < 5 || delta[0]&^dflagsKnown != 0 {
		return nil, false
	}
	r.has, r.fcnt = delta[0]&dflagHasFCnt != 0, binary.BigEndian.Uint32(delta[1:5])
	r.low, r.lowSet, r.lowMICs = false, 0, [relaxResetMax]lorawan.MIC{}
	r.prevSet, r.prevMICs = 0, [relaxResetMax]lorawan.MIC{}
	d := delta[5:]
	if delta[0]&dflagLow != 0 {
		if len(d) < lowSize {
			return nil, false
		}
		r.low = true
		r.lowSet, r.lowMICs, d = readLow(d)
		if delta[0]&dflagLowPrev != 0 {
			if len(d) < lowSize {
				return nil, false
			}
			r.prevSet, r.prevMICs, d = readLow(d)
		}
	} else if delta[0]&dflagLowPrev != 0 {
		return nil, false
	}
	if len(d) != 0 {
		return nil, false
	}
	return encodeRecord(r), true
}

// deltaFor returns the delta that turns the device's saved full record into
// rec, if the two differ only in the active session's counter state.
// Callers hold p.mu.
func (p *Persister) deltaFor(e lorawan.EUI64, rec []byte) ([]byte, bool) {
	base := p.saved[e]
	if base == nil || rec == nil {
		return nil, false
	}
	r, err := decodeRecord(e, rec)
	if err != nil || r.active == nil {
		return nil, false
	}
	d := encodeDelta(r)
	if got, ok := applyDelta(e, base, d); !ok || !bytes.Equal(got, rec) {
		return nil, false
	}
	return d, true
}

// loadCounters reads the full records and deltas, remembers them as what
// the store holds, and returns the records with the deltas applied.
func (p *Persister) loadCounters() (map[lorawan.EUI64][]byte, error) {
	recs, deltas, err := p.cs.LoadCounters()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saved = maps.Clone(recs)
	if p.saved == nil {
		p.saved = map[lorawan.EUI64][]byte{}
	}
	clear(p.deltas)
	out := maps.Clone(recs)
	if out == nil {
		out = map[lorawan.EUI64][]byte{}
	}
	for e, d := range deltas {
		merged, ok := applyDelta(e, recs[e], d)
		if !ok {
			// Not written by this version, or damaged: its counter is
			// lost, so the full record's (older) one applies. The next save
			// folds, which drops it.
			p.log.Warn("Saved frame counter unreadable; the device's last full save applies", "dev_eui", HexUpper(e[:]))
			p.mustFold = true
			continue
		}
		out[e] = merged
		p.deltas[e] = d
	}
	return out, nil
}

// saveCounters writes recs, the changed records of the dirty devices:
// counter-only changes as deltas, the others as full records. It folds
// when asked, when the deltas would outgrow the store's room, or after a
// failed save (what landed is then unknown; a fold rewrites every record
// that a delta could apply to). commit, when not nil, writes the save
// instead of the store (FlushWith). Callers hold p.mu.
func (p *Persister) saveCounters(ctx context.Context, recs map[lorawan.EUI64][]byte, fold bool, commit func(context.Context, CounterSave) error) error {
	fold = fold || p.mustFold
	full := map[lorawan.EUI64][]byte{}
	deltas := map[lorawan.EUI64][]byte{}
	for e, rec := range recs {
		if !p.mustFold {
			old, hasOld := p.deltas[e]
			if d, ok := p.deltaFor(e, rec); ok {
				switch {
				case hasOld && bytes.Equal(old, d):
				case !hasOld && bytes.Equal(p.saved[e], rec):
				default:
					deltas[e] = d
				}
				continue
			}
			if rec != nil && !hasOld && bytes.Equal(p.saved[e], rec) {
				continue // unchanged
			}
		}
		full[e] = rec
	}
	if !fold {
		size := 0
		for e, d := range p.deltas {
			_, inFull := full[e]
			_, renewed := deltas[e]
			if !inFull && !renewed {
				size += len(d) + p.perDelta
			}
		}
		for _, d := range deltas {
			size += len(d) + p.perDelta
		}
		fold = size > p.room
	}
	if fold {
		// Every device with a delta gets its full record: its current
		// state, at least as new as the delta.
		var more []lorawan.EUI64
		for e := range p.deltas {
			if _, ok := full[e]; !ok {
				if _, ok := deltas[e]; !ok {
					more = append(more, e)
				}
			}
		}
		for e := range deltas {
			full[e] = recs[e]
		}
		if len(more) > 0 {
			p.s.mu.Lock()
			for _, e := range more {
				full[e] = p.s.record(e)
			}
			p.s.mu.Unlock()
		}
		deltas = nil
	}
	if commit == nil {
		if len(full) == 0 && len(deltas) == 0 && !fold {
			return nil
		}
		commit = func(ctx context.Context, save CounterSave) error {
			if err := p.cs.SaveCounters(ctx, save); err != nil {
				return fmt.Errorf("saving %d device records and %d counters: %w", len(save.Records), len(save.Deltas), err)
			}
			return nil
		}
	}
	if err := commit(ctx, CounterSave{Records: full, Deltas: deltas, Fold: fold}); err != nil {
		p.mustFold = true
		return err
	}
	for e, r := range full {
		if r == nil {
			delete(p.saved, e)
		} else {
			p.saved[e] = r
		}
		delete(p.deltas, e)
	}
	if fold {
		clear(p.deltas)
		p.mustFold = false
	}
	maps.Copy(p.deltas, deltas)
	return nil
}
