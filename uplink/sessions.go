package uplink

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brocaar/lorawan"
)

// Session is one device's LoRaWAN 1.0 session as configured (ABP) or learnt.
// Its String, GoString and LogValue mask the keys, so a Session may be
// logged or printed; never print NwkSKey or AppSKey on their own
// (lorawan.AES128Key.String prints them in clear).
type Session struct {
	DevEUI  lorawan.EUI64
	DevAddr lorawan.DevAddr
	NwkSKey lorawan.AES128Key
	AppSKey lorawan.AES128Key
	// RelaxFCnt accepts a counter that went back to a low value when its
	// MIC verifies, for ABP devices that restart their counter on reboot; a
	// replay within the current counter session is still dropped.
	RelaxFCnt bool
	// LoRaWAN11 marks a LoRaWAN 1.1 session, learnt from a join that
	// negotiated 1.1 (OptNeg). NwkSKey then holds the FNwkSIntKey, and only
	// the MIC's half computed with it is checked: the other half is keyed
	// with the SNwkSIntKey over the data rate and channel indices that the
	// network server assigned, which the gateway does not know. A frame not
	// of this device passes that half with probability 2^-16.
	LoRaWAN11 bool
}

// String describes the session with its keys masked.
func (s Session) String() string {
	return fmt.Sprintf("{DevEUI:%s DevAddr:%s NwkSKey:%s AppSKey:%s RelaxFCnt:%t LoRaWAN11:%t}",
		HexUpper(s.DevEUI[:]), HexUpper(s.DevAddr[:]), maskedKey, maskedKey, s.RelaxFCnt, s.LoRaWAN11)
}

// GoString keeps %#v from printing the keys.
func (s Session) GoString() string { return "uplink.Session" + s.String() }

// LogValue keeps slog from printing the keys.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dev_eui", HexUpper(s.DevEUI[:])),
		slog.String("dev_addr", HexUpper(s.DevAddr[:])),
		slog.String("nwk_s_key", maskedKey),
		slog.String("app_s_key", maskedKey),
		slog.Bool("relax_fcnt", s.RelaxFCnt),
	)
}

// MarshalJSON keeps encoding/json (and slog's JSON handler, which uses it
// for slices and structs holding a Session) from printing the keys. A
// Session is therefore not a storage format for keys.
func (s Session) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		DevEUI, DevAddr  string
		NwkSKey, AppSKey string
		RelaxFCnt        bool
	}{HexUpper(s.DevEUI[:]), HexUpper(s.DevAddr[:]), maskedKey, maskedKey, s.RelaxFCnt})
}

const maskedKey = "********"

// DeviceState is what Snapshot reports for one device, for status pages and
// for persisting frame counters across restarts.
type DeviceState struct {
	DevEUI  lorawan.EUI64
	DevAddr lorawan.DevAddr
	HasFCnt bool   // an uplink (or RestoreFCnt) set FCnt
	FCnt    uint32 // last accepted 32-bit FCntUp
	Uplinks uint64 // frames accepted in this session, MAC-only ones included
	Joined  bool   // the session was learnt from a join (OTAA)
	// PendingJoin: a join-accept gave the device a new session that no
	// uplink has used yet; the session shown stays until one does.
	PendingJoin bool

	LastUplink time.Time // reception time of the last accepted frame
	RSSI       float64   // of its best reception
	SNR        float64
}

// ErrDuplicateDevEUI is returned by Set when two sessions name the same device.
var ErrDuplicateDevEUI = errors.New("duplicate_dev_eui")

// Sessions is the table of device sessions: ABP sessions from the
// configuration and OTAA sessions learnt from joins (see Joiner), in one
// table, so that a DevAddr shared by both is resolved by MIC. It is safe for
// concurrent use: lookups read an immutable table through an atomic
// pointer, and each device's counter state has its own lock.
type Sessions struct {
	mu  sync.Mutex // serialises every change of the table
	tab atomic.Pointer[sessionTable]

	// The sources the table is built from; under mu.
	abp     map[lorawan.EUI64]*session   // configured, by Set
	abpList []lorawan.EUI64              // in Set's order (the MIC order)
	learnt  map[lorawan.EUI64]*session   // active OTAA sessions
	pending map[lorawan.EUI64][]*session // joined, no uplink verified yet

	dirty dirtySet // devices whose state is not persisted yet
}

type sessionTable struct {
	byAddr map[lorawan.DevAddr][]*session // active first, then pending
	byEUI  map[lorawan.EUI64]*session     // active sessions only
}

// session is the immutable part of a Session plus the expanded keys, so
// that the hot path never runs the AES key schedule.
type session struct {
	Session
	nwk cmacKey
	app cipher.Block
	st  *devState // shared with the session it replaced when keys are equal

	learnt  bool // from a join, not from the configuration
	pending bool // replaces the active session once an uplink verifies
}

// relaxResetMax: a RelaxFCnt device that went back to a counter below
// this is taken to have restarted; a lower counter at or above it is a
// replay. Devices restart at 0 or 1; the margin covers a few lost frames.
const relaxResetMax = 16

type devState struct {
	mu         sync.Mutex
	has        bool
	fcnt       uint32
	uplinks    uint64
	lastUplink time.Time
	rssi, snr  float64

	// For RelaxFCnt devices: the MICs of the frames with counters below
	// relaxResetMax accepted since the last restart, so that a replay of
	// one of them is not taken for another restart.
	lowSet  uint16
	lowMICs [relaxResetMax]lorawan.MIC
	// prevSet and prevMICs are the same of the counter session before:
	// a recording of the run before the device's last restart, replayed
	// from its start, is not taken for yet another restart.
	prevSet  uint16
	prevMICs [relaxResetMax]lorawan.MIC

	// For LoRaWAN 1.1 sessions: a counter that jumped more than
	// maxFCntGap11 ahead, verified on its 16 checkable MIC bits; a second
	// frame just after it makes the jump good (see checkGap11).
	farFCnt uint32
	hasFar  bool
}

// maxFCntGap11 is the largest forward jump of a LoRaWAN 1.1 counter taken
// on one frame. Only 16 of its MIC's bits can be checked here, so a forged
// frame passes about once in 65,536 tries; were any jump accepted, such a
// frame would move the counter far ahead and silence the device. A longer
// jump (a device unheard for that many frames) needs two consecutive
// frames that verify, 32 bits together.
const maxFCntGap11 = 16384

// farConfirm is how close the second frame of a long jump must follow
// the first.
const farConfirm = 16

// checkGap11 tells whether a LoRaWAN 1.1 frame with counter fcnt may be
// accepted after last (0 for a session without any frame yet).
func (st *devState) checkGap11(last, fcnt uint32) bool {
	if fcnt <= last || fcnt-last <= maxFCntGap11 {
		return true
	}
	if st.hasFar && fcnt > st.farFCnt && fcnt-st.farFCnt <= farConfirm {
		st.hasFar = false
		return true
	}
	st.farFCnt, st.hasFar = fcnt, true
	return false
}

// lowSeen tells whether the frame with this low counter and MIC was
// already accepted in the current or the previous counter session.
func (st *devState) lowSeen(fcnt uint32, mic lorawan.MIC) bool {
	return fcnt < relaxResetMax && (st.lowSet&(1<<fcnt) != 0 && st.lowMICs[fcnt] == mic ||
		st.prevSet&(1<<fcnt) != 0 && st.prevMICs[fcnt] == mic)
}

// restarted begins a new counter session; the one that ends is kept as
// the previous one.
func (st *devState) restarted() {
	st.prevSet, st.prevMICs = st.lowSet, st.lowMICs
	st.lowSet = 0
}

func (st *devState) noteLow(fcnt uint32, mic lorawan.MIC) {
	if fcnt < relaxResetMax {
		st.lowSet |= 1 << fcnt
		st.lowMICs[fcnt] = mic
	}
}

// NewSessions returns an empty table.
func NewSessions() *Sessions {
	s := &Sessions{
		abp:     map[lorawan.EUI64]*session{},
		learnt:  map[lorawan.EUI64]*session{},
		pending: map[lorawan.EUI64][]*session{},
	}
	s.dirty.init()
	s.tab.Store(&sessionTable{
		byAddr: map[lorawan.DevAddr][]*session{},
		byEUI:  map[lorawan.EUI64]*session{},
	})
	return s
}

// Set replaces the configured (ABP) sessions at once (a reload). A device
// whose DevAddr and keys are unchanged keeps its frame-counter state; any
// other change starts the device afresh, since a new session restarts its
// counter. Sessions learnt from joins are kept, and take precedence over a
// configured session of the same device. On error the table is left as it
// was.
func (s *Sessions) Set(devs []Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	abp := make(map[lorawan.EUI64]*session, len(devs))
	list := make([]lorawan.EUI64, 0, len(devs))
	for _, d := range devs {
		if _, dup := abp[d.DevEUI]; dup {
			return fmt.Errorf("%w: %s", ErrDuplicateDevEUI, HexUpper(d.DevEUI[:]))
		}
		ns, err := newSession(d)
		if err != nil {
			return err
		}
		if o := s.abp[d.DevEUI]; o != nil && o.DevAddr == d.DevAddr &&
			o.NwkSKey == d.NwkSKey && o.AppSKey == d.AppSKey {
			ns.st = o.st
		} else {
			s.dirty.mark(d.DevEUI, false)
		}
		abp[d.DevEUI] = ns
		list = append(list, d.DevEUI)
	}
	for e := range s.abp {
		if abp[e] == nil {
			s.dirty.mark(e, false) // its saved record goes at the next save
		}
	}
	s.abp, s.abpList = abp, list
	s.rebuild()
	return nil
}

// rebuild publishes a new table from the sources; callers hold mu.
func (s *Sessions) rebuild() {
	nt := &sessionTable{
		byAddr: make(map[lorawan.DevAddr][]*session, len(s.abp)+len(s.learnt)),
		byEUI:  make(map[lorawan.EUI64]*session, len(s.abp)+len(s.learnt)),
	}
	add := func(ss *session) {
		nt.byEUI[ss.DevEUI] = ss
		nt.byAddr[ss.DevAddr] = append(nt.byAddr[ss.DevAddr], ss)
	}
	for _, e := range s.abpList {
		if s.learnt[e] == nil {
			add(s.abp[e])
		}
	}
	for _, e := range sortedEUIs(s.learnt) {
		add(s.learnt[e])
	}
	for _, e := range sortedEUIs(s.pending) {
		for _, p := range s.pending[e] {
			nt.byAddr[p.DevAddr] = append(nt.byAddr[p.DevAddr], p)
		}
	}
	s.tab.Store(nt)
}

func sortedEUIs[V any](m map[lorawan.EUI64]V) []lorawan.EUI64 {
	out := make([]lorawan.EUI64, 0, len(m))
	for e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b lorawan.EUI64) int { return slices.Compare(a[:], b[:]) })
	return out
}

func newSession(d Session) (*session, error) {
	nwk, err := newCMACKey(d.NwkSKey)
	if err != nil {
		return nil, err
	}
	app, err := aes.NewCipher(d.AppSKey[:])
	if err != nil {
		return nil, err
	}
	return &session{Session: d, nwk: nwk, app: app, st: &devState{}}, nil
}

// lookup returns every session with this DevAddr; the caller must not
// modify the slice.
func (s *Sessions) lookup(addr lorawan.DevAddr) []*session {
	return s.tab.Load().byAddr[addr]
}

// Lookup returns a copy of every session with this DevAddr, in the order
// Set was given them (the order in which the decoder tries their MICs).
func (s *Sessions) Lookup(addr lorawan.DevAddr) []Session {
	ss := s.lookup(addr)
	out := make([]Session, len(ss))
	for i, x := range ss {
		out[i] = x.Session
	}
	return out
}

// Len is the number of sessions.
func (s *Sessions) Len() int { return len(s.tab.Load().byEUI) }

// RestoreFCnt sets a device's last accepted counter, e.g. from state saved
// before a restart. It only moves the counter forward, and reports whether
// the device is known.
func (s *Sessions) RestoreFCnt(devEUI lorawan.EUI64, fcnt uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.tab.Load().byEUI[devEUI]
	if ss == nil {
		return false
	}
	st := ss.st
	st.mu.Lock()
	if !st.has || fcnt > st.fcnt {
		st.has, st.fcnt = true, fcnt
	}
	st.mu.Unlock()
	return true
}

// Snapshot returns every device's state, ordered by DevEUI.
func (s *Sessions) Snapshot() []DeviceState {
	tab := s.tab.Load()
	pending := map[lorawan.EUI64]bool{}
	for _, ss := range tab.byAddr {
		for _, x := range ss {
			if x.pending {
				pending[x.DevEUI] = true
			}
		}
	}
	out := make([]DeviceState, 0, len(tab.byEUI))
	for _, ss := range tab.byEUI {
		st := ss.st
		st.mu.Lock()
		out = append(out, DeviceState{
			DevEUI: ss.DevEUI, DevAddr: ss.DevAddr,
			HasFCnt: st.has, FCnt: st.fcnt, Uplinks: st.uplinks,
			Joined: ss.learnt, PendingJoin: pending[ss.DevEUI],
			LastUplink: st.lastUplink, RSSI: st.rssi, SNR: st.snr,
		})
		st.mu.Unlock()
		delete(pending, ss.DevEUI)
	}
	for e := range pending { // joined, but no session before this one
		out = append(out, DeviceState{DevEUI: e, PendingJoin: true})
	}
	slices.SortFunc(out, func(a, b DeviceState) int {
		return slices.Compare(a.DevEUI[:], b.DevEUI[:])
	})
	return out
}
