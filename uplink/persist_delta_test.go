package uplink

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"

	"github.com/brocaar/lorawan"
)

// memCounterStore is a CounterStore in memory whose saves are atomic, as
// bbolt commits are; crashImage is what a SIGKILL right now would leave.
type memCounterStore struct {
	mu             sync.Mutex
	recs, deltas   map[lorawan.EUI64][]byte
	room, perDelta int
	fail           error // the next save fails with it, writing nothing

	deltaSaves, fullSaves, folds int
}

func newMemCounterStore(room int) *memCounterStore {
	return &memCounterStore{recs: map[lorawan.EUI64][]byte{}, deltas: map[lorawan.EUI64][]byte{}, room: room, perDelta: 24}
}

func (m *memCounterStore) SaveSessions(ctx context.Context, recs map[lorawan.EUI64][]byte) error {
	return m.SaveCounters(ctx, CounterSave{Records: recs})
}

func (m *memCounterStore) LoadSessions() (map[lorawan.EUI64][]byte, error) {
	r, _, err := m.LoadCounters()
	return r, err
}

func (m *memCounterStore) DeltaRoom() (int, int) { return m.room, m.perDelta }

func (m *memCounterStore) SaveCounters(_ context.Context, s CounterSave) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail; err != nil {
		m.fail = nil
		return err
	}
	for e := range s.Deltas {
		if _, both := s.Records[e]; both {
			panic("device both in Records and Deltas")
		}
	}
	if s.Fold {
		clear(m.deltas)
		m.folds++
	}
	for e, r := range s.Records {
		delete(m.deltas, e)
		if r == nil {
			delete(m.recs, e)
		} else {
			m.recs[e] = append([]byte(nil), r...)
		}
	}
	for e, d := range s.Deltas {
		m.deltas[e] = append([]byte(nil), d...)
	}
	if len(s.Records) == 0 {
		m.deltaSaves++
	} else {
		m.fullSaves++
	}
	return nil
}

func (m *memCounterStore) LoadCounters() (map[lorawan.EUI64][]byte, map[lorawan.EUI64][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.recs), maps.Clone(m.deltas), nil
}

// crashImage is a copy of what is committed, as a new process would find it.
func (m *memCounterStore) crashImage() *memCounterStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemCounterStore(m.room)
	c.recs, c.deltas = maps.Clone(m.recs), maps.Clone(m.deltas)
	return c
}

func (m *memCounterStore) deltaBytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, d := range m.deltas {
		n += len(d) + m.perDelta
	}
	return n
}

func abpDev(n byte, relax bool) Session {
	s := Session{DevEUI: eui(n), DevAddr: lorawan.DevAddr{0x26, 0x01, 0, n}, RelaxFCnt: relax}
	for i := range s.NwkSKey {
		s.NwkSKey[i] = byte(i) ^ n
		s.AppSKey[i] = byte(0x80+i) ^ n
	}
	return s
}

// With persist "always" each uplink's counter is saved before the PUSH_ACK:
// as a delta while the session is unchanged, folded into the full records
// when the deltas fill their room. A SIGKILL after any save, between deltas
// or right after a fold, loses no counter: every accepted frame replayed
// to the restarted agent is refused, and the next frame is accepted. A
// session change (a join, new ABP keys) drops the device's delta with the
// full record, so an old counter never applies to a new session.
func TestCounterDeltaSurvivesCrashBetweenSaveAndFold(t *testing.T) {
	abp := make([]Session, 10)
	for i := range abp {
		abp[i] = abpDev(byte(0x40+i), i == 3)
	}
	otaa := newOTAADev(0x60)
	store := newMemCounterStore(5 * (5 + 24)) // five plain deltas, or the RelaxFCnt one and two
	f := newOTAAFixture(t, store, abp, otaa.RootKeys)

	type sent struct {
		s     Session
		fcnt  uint32
		frame []byte
	}
	last := map[lorawan.EUI64]sent{}
	send := func(s Session, fcnt uint32) {
		t.Helper()
		phy := buildUp(t, s, fcnt, port(1), []byte{byte(fcnt)}, false)
		if ups := f.up(phy); len(ups) != 1 {
			t.Fatalf("%s fcnt %d refused", s.DevEUI, fcnt)
		}
		if err := f.p.Flush(t.Context()); err != nil { // persist "always": before the PUSH_ACK
			t.Fatal(err)
		}
		last[s.DevEUI] = sent{s, fcnt, phy}
	}
	crashAndCheck := func(step int) {
		t.Helper()
		if n := store.deltaBytes(); n > store.room {
			t.Fatalf("step %d: %d bytes of deltas, room %d", step, n, store.room)
		}
		g := newOTAAFixture(t, store.crashImage(), abp, otaa.RootKeys)
		for _, l := range last {
			if ups := g.up(l.frame); len(ups) != 0 {
				t.Fatalf("step %d: replay of %s fcnt %d accepted after a crash", step, l.s.DevEUI, l.fcnt)
			}
			if ups := g.up(buildUp(t, l.s, l.fcnt+1, port(1), []byte("next"), false)); len(ups) != 1 {
				t.Fatalf("step %d: %s fcnt %d (next) refused after a crash", step, l.s.DevEUI, l.fcnt+1)
			}
		}
	}

	var joined Session
	fcnt := map[lorawan.EUI64]uint32{}
	for step := range 120 {
		switch step {
		case 40: // a join: the OTAA device's full record, at once
			req, dn := otaa.joinRequest(t)
			f.up(req)
			acc, sess := otaa.joinAccept(t, dn, 7, lorawan.DevAddr{0x26, 0x02, 0, 0x60})
			if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
				t.Fatal(err)
			}
			joined = sess
		case 80: // new keys for a device with a delta: it starts afresh
			d := abp[(step-1)%len(abp)]
			if _, ok := store.crashImage().deltas[d.DevEUI]; !ok {
				t.Fatalf("step %d: %s has no delta to drop", step, d.DevEUI)
			}
			abp[(step-1)%len(abp)].NwkSKey[0] ^= 0xff
			if err := f.s.Set(abp); err != nil {
				t.Fatal(err)
			}
			fcnt[d.DevEUI] = 0
			delete(last, d.DevEUI)
		}
		d := abp[step%len(abp)]
		if joined.DevEUI != (lorawan.EUI64{}) && step%3 == 0 {
			d = joined
		}
		fcnt[d.DevEUI]++
		send(d, fcnt[d.DevEUI])
		crashAndCheck(step)
	}
	t.Logf("%d delta-only saves, %d saves with full records, %d folds", store.deltaSaves, store.fullSaves, store.folds)
	if store.deltaSaves < 60 || store.folds < 10 {
		t.Fatalf("%d delta-only saves and %d folds: the test does not exercise both", store.deltaSaves, store.folds)
	}

	// A clean stop folds: the full records alone hold every counter.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); f.p.Run(ctx) }()
	cancel()
	<-done
	if img := store.crashImage(); len(img.deltas) != 0 {
		t.Fatalf("%d deltas left after a clean stop", len(img.deltas))
	}
	crashAndCheck(-1)
}

// A failed save writes nothing and is retried; the next save folds, as
// what the store holds is then uncertain.
func TestCounterSaveFailureFoldsNext(t *testing.T) {
	abp := []Session{abpDev(0x41, false), abpDev(0x42, false)}
	store := newMemCounterStore(1008)
	f := newOTAAFixture(t, store, abp)
	for fc := uint32(1); fc <= 3; fc++ {
		for _, s := range abp {
			f.up(buildUp(t, s, fc, port(1), nil, false))
		}
		if err := f.p.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(store.deltas) != 2 {
		t.Fatalf("%d deltas, want 2", len(store.deltas))
	}
	f.up(buildUp(t, abp[0], 4, port(1), nil, false))
	store.fail = errors.New("disk full")
	if err := f.p.Flush(t.Context()); err == nil {
		t.Fatal("failed save reported as saved")
	}
	folds := store.folds
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if store.folds != folds+1 || len(store.deltas) != 0 {
		t.Fatalf("after a failed save: %d folds (was %d), %d deltas", store.folds, folds, len(store.deltas))
	}
	g := newOTAAFixture(t, store.crashImage(), abp)
	if ups := g.up(buildUp(t, abp[0], 4, port(1), nil, false)); len(ups) != 0 {
		t.Fatal("replay accepted after the retried save")
	}
}

// An unchanged device is not written again: after a restart, the devices
// the configuration marks changed cost nothing when their records match.
func TestUnchangedRecordsNotRewritten(t *testing.T) {
	abp := []Session{abpDev(0x41, false), abpDev(0x42, true)}
	store := newMemCounterStore(1008)
	f := newOTAAFixture(t, store, abp)
	f.up(buildUp(t, abp[0], 1, port(1), nil, false))
	f.up(buildUp(t, abp[1], 1, port(1), nil, false))
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.up(buildUp(t, abp[1], 2, port(1), nil, false))
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	saves := store.deltaSaves + store.fullSaves
	g := newOTAAFixture(t, store, abp) // restart: Set marks both devices
	if err := g.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := store.deltaSaves + store.fullSaves; n != saves {
		t.Fatalf("%d saves of unchanged records after a restart", n-saves)
	}
	if ups := g.up(buildUp(t, abp[1], 2, port(1), nil, false)); len(ups) != 0 {
		t.Fatal("RelaxFCnt replay accepted after restart")
	}
}

// FlushWith hands the save to the caller's commit, once, also when nothing
// changed; a failed commit leaves the counters to the next save.
func TestFlushWithCallersCommit(t *testing.T) {
	abp := []Session{abpDev(0x41, false)}
	store := newMemCounterStore(1008)
	f := newOTAAFixture(t, store, abp)
	var calls int
	var got CounterSave
	commit := func(fail error) func(context.Context, CounterSave) error {
		return func(ctx context.Context, s CounterSave) error {
			calls++
			got = s
			if fail != nil {
				return fail // as a failed transaction: nothing written
			}
			return store.SaveCounters(ctx, s) // the caller's transaction, with its own writes
		}
	}
	if err := f.p.Flush(t.Context()); err != nil { // the configured device's first record
		t.Fatal(err)
	}
	if err := f.p.FlushWith(t.Context(), commit(nil)); err != nil || calls != 1 {
		t.Fatalf("nothing dirty: err %v, %d calls; want the caller's commit once", err, calls)
	}
	if len(got.Records)+len(got.Deltas) != 0 || got.Fold {
		t.Fatalf("nothing dirty, but the save holds %+v", got)
	}
	for fc := uint32(1); fc <= 2; fc++ {
		f.up(buildUp(t, abp[0], fc, port(1), nil, false))
		calls = 0
		if err := f.p.FlushWith(t.Context(), commit(nil)); err != nil || calls != 1 {
			t.Fatalf("fcnt %d: err %v, %d calls", fc, err, calls)
		}
		if len(got.Records)+len(got.Deltas) != 1 {
			t.Fatalf("fcnt %d: save %+v, want the device", fc, got)
		}
	}

	f.up(buildUp(t, abp[0], 3, port(1), nil, false))
	full := errors.New("no space")
	if err := f.p.FlushWith(t.Context(), commit(full)); !errors.Is(err, full) {
		t.Fatalf("failed commit: FlushWith = %v", err)
	}
	if g := newOTAAFixture(t, store.crashImage(), abp); len(g.up(buildUp(t, abp[0], 3, port(1), nil, false))) != 1 {
		t.Fatal("the failed commit wrote the counter")
	}
	folds := store.folds
	if err := f.p.FlushWith(t.Context(), commit(nil)); err != nil {
		t.Fatal(err)
	}
	if !got.Fold || store.folds != folds+1 {
		t.Fatalf("after a failed commit the next save does not fold: %+v", got)
	}
	if g := newOTAAFixture(t, store.crashImage(), abp); len(g.up(buildUp(t, abp[0], 3, port(1), nil, false))) != 0 {
		t.Fatal("replay accepted: the counter of the failed commit was not saved next time")
	}
}

// Without a CounterStore, FlushWith's save holds the full records.
func TestFlushWithSessionStore(t *testing.T) {
	abp := []Session{abpDev(0x41, false)}
	f := newOTAAFixture(t, &memStore{recs: map[lorawan.EUI64][]byte{}}, abp)
	f.up(buildUp(t, abp[0], 1, port(1), nil, false))
	var got CounterSave
	if err := f.p.FlushWith(t.Context(), func(_ context.Context, s CounterSave) error { got = s; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 || got.Records[abp[0].DevEUI] == nil || len(got.Deltas) != 0 {
		t.Fatalf("save %+v, want the device's full record", got)
	}
}
