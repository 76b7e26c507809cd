package agent

import (
	"context"

	"github.com/brocaar/lorawan"

	"edgeflow/buffer"
	"edgeflow/config"
	"edgeflow/packetfwd/gwmp"
	"edgeflow/uplink"
)

// sessionsBucket is the buffer state bucket that keeps device sessions
// (learnt OTAA keys, frame counters) across restarts, keyed by DevEUI.
// countersBucket keeps the frame counters changed since their device's
// record in sessionsBucket was written (uplink.CounterStore), keyed by the
// DevEUI's 8 bytes: at most deltaRoom bytes, so that bbolt stores it inline
// in the root page, which every commit writes anyway. A counter saved with
// each uplink (persist "always") then costs no page of its own, where the
// sessions bucket's leaf and branch cost two.
const (
	sessionsBucket = "sessions"
	countersBucket = "sessions-fcnt"
)

// deltaRoom is what bbolt inlines: a quarter page (4 KiB pages; larger
// pages leave more room) less the page header; perDelta is bbolt's 16-byte
// element header and the 8-byte key.
const (
	deltaRoom = 4096/4 - 16
	perDelta  = 16 + 8
)

// devices is the agent's device side: the session table, the joiner that
// learns OTAA sessions, and the persister that keeps them on flash.
type devices struct {
	joiner    *uplink.Joiner
	persister *uplink.Persister
	always    bool // buffer.persist "always": counters saved before the ack
	cancel    context.CancelFunc
	done      chan struct{}
}

// startSessions builds the session table from the configuration, restores
// what was saved before the restart, and starts saving. It runs before any
// frame source, so the first frame already finds its session.
func (a *Agent) startSessions(ctx context.Context, cfg *config.Config) error {
	log := a.log.With("component", "uplink")
	a.sessions = uplink.NewSessions()
	if err := a.sessions.Set(sessionsFromConfig(cfg.Devices)); err != nil {
		return err
	}
	dv := &devices{always: cfg.Buffer.Persist == config.PersistAlways, done: make(chan struct{})}
	dv.persister = uplink.NewPersister(a.sessions, stateStore{a.store}, uplink.PersistOptions{}, log)
	n, err := dv.persister.Load()
	if err != nil {
		// The buffer opened, so the file is readable; a failure here is
		// the state's alone. Devices start afresh rather than not at all.
		log.Error("cannot read saved device sessions; OTAA devices must join again", "err", err)
	}
	dv.joiner = uplink.NewJoiner(a.sessions, uplink.JoinerOptions{Now: a.opts.Now}, log, a.set)
	if err := dv.joiner.SetDevices(otaaFromConfig(cfg.Devices)); err != nil {
		return err
	}
	a.decoder = uplink.NewDecoder(a.sessions, uplink.DecoderOptions{Now: a.opts.Now, Joiner: dv.joiner, OnDuplicate: a.merger.Add, OnReject: a.publishRejected}, log, a.set)
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	dv.cancel = cancel
	go func() { defer close(dv.done); dv.persister.Run(pctx) }()
	a.dev = dv
	log.Info("device sessions ready", "restored", n, "otaa_devices", len(otaaFromConfig(cfg.Devices)))
	return nil
}

// reloadSessions applies a new configuration's devices, keeping counters
// and learnt sessions of the devices that stay.
func (a *Agent) reloadSessions(cfg *config.Config) error {
	if err := a.sessions.Set(sessionsFromConfig(cfg.Devices)); err != nil {
		return err
	}
	return a.dev.joiner.SetDevices(otaaFromConfig(cfg.Devices))
}

// stopSessions saves every device's state; the buffer must still be open.
func (a *Agent) stopSessions() {
	if a.dev == nil {
		return
	}
	a.dev.cancel()
	<-a.dev.done // Run saves once more on its way out
}

// enqueue hands decoded uplinks to delivery. With persist "always" the
// counters they moved go into the uplinks' own commit, so both are on flash
// before the PUSH_ACK, or neither: no acknowledged uplink can be accepted
// again after a power cut.
func (a *Agent) enqueue(ctx context.Context, ups []uplink.Uplink) error {
	if !a.dev.always || len(ups) == 0 {
		return a.delivery.Enqueue(ctx, ups)
	}
	return a.dev.persister.FlushWith(ctx, func(ctx context.Context, save uplink.CounterSave) error {
		var b buffer.Batch
		b.States(counterWrites(save)...)
		return a.delivery.EnqueueWith(ctx, ups, &b)
	})
}

// onDownlink sees every PULL_RESP the relay passes from a network server
// to the gateway, for the join-accepts among them.
func (a *Agent) onDownlink(gatewayEUI lorawan.EUI64, txpk gwmp.TXPK) {
	phy, err := txpk.Payload()
	if err != nil || a.dev == nil {
		return
	}
	_ = a.dev.joiner.HandleJoinAccept(gatewayEUI, phy) // counts and logs itself
}

// onBridgeDownlink sees the downlink commands a network server publishes
// for a gateway bridge, for the join-accepts among them.
func (a *Agent) onBridgeDownlink(gatewayEUI lorawan.EUI64, phy []byte) {
	if a.dev != nil {
		_ = a.dev.joiner.HandleJoinAccept(gatewayEUI, phy)
	}
}

func otaaFromConfig(devs []config.Device) []uplink.RootKeys {
	var zero lorawan.AES128Key
	var out []uplink.RootKeys
	for _, d := range devs {
		if d.AppKey == zero {
			continue
		}
		out = append(out, uplink.RootKeys{DevEUI: d.DevEUI, JoinEUI: d.JoinEUI, AppKey: d.AppKey, NwkKey: d.NwkKey})
	}
	return out
}

// stateStore keeps device sessions in the buffer's file.
type stateStore struct{ s *buffer.Store }

func (st stateStore) SaveSessions(ctx context.Context, recs map[lorawan.EUI64][]byte) error {
	kv := make(map[string][]byte, len(recs))
	for e, r := range recs {
		kv[e.String()] = r
	}
	return st.s.PutStates(ctx, sessionsBucket, kv)
}

func (st stateStore) LoadSessions() (map[lorawan.EUI64][]byte, error) {
	kv, err := st.s.GetStates(sessionsBucket)
	if err != nil {
		return nil, err
	}
	out := make(map[lorawan.EUI64][]byte, len(kv))
	for k, v := range kv {
		var e lorawan.EUI64
		if err := e.UnmarshalText([]byte(k)); err == nil { // else not ours: skip
			out[e] = v
		}
	}
	return out, nil
}

// stateStore is an uplink.CounterStore.
var _ uplink.CounterStore = stateStore{}

func (st stateStore) DeltaRoom() (int, int) { return deltaRoom, perDelta }

func (st stateStore) SaveCounters(ctx context.Context, cs uplink.CounterSave) error {
	return st.s.UpdateStates(ctx, counterWrites(cs)...)
}

// counterWrites is a counter save in the buffer's terms: the full records,
// then the deltas, in one transaction.
func counterWrites(cs uplink.CounterSave) []buffer.StateWrite {
	full := make(map[string][]byte, len(cs.Records))
	delta := make(map[string][]byte, len(cs.Records)+len(cs.Deltas))
	for e, r := range cs.Records {
		full[e.String()] = r
		if !cs.Fold {
			delta[string(e[:])] = nil
		}
	}
	for e, d := range cs.Deltas {
		delta[string(e[:])] = d
	}
	return []buffer.StateWrite{
		{Bucket: sessionsBucket, KV: full},
		{Bucket: countersBucket, Clear: cs.Fold, KV: delta},
	}
}

func (st stateStore) LoadCounters() (recs, deltas map[lorawan.EUI64][]byte, err error) {
	m, err := st.s.GetStateBuckets(sessionsBucket, countersBucket)
	if err != nil {
		return nil, nil, err
	}
	recs = make(map[lorawan.EUI64][]byte, len(m[sessionsBucket]))
	for k, v := range m[sessionsBucket] {
		var e lorawan.EUI64
		if err := e.UnmarshalText([]byte(k)); err == nil { // else not ours: skip
			recs[e] = v
		}
	}
	deltas = make(map[lorawan.EUI64][]byte, len(m[countersBucket]))
	for k, v := range m[countersBucket] {
		if len(k) == len(lorawan.EUI64{}) {
			deltas[lorawan.EUI64([]byte(k))] = v
		}
	}
	return recs, deltas, nil
}
