package uplink

import (
	"context"
	"edgeflow/internal/testkit"
	"maps"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// otaaDev is a test device that joins: it builds its join-requests, and,
// standing in for the network server, the join-accepts that answer them,
// all with brocaar/lorawan. Its session keys come from testkit.SessionKey, written
// from the specification apart from the code under test.
type otaaDev struct {
	RootKeys
	nonce uint16
}

func newOTAADev(n byte) *otaaDev {
	d := &otaaDev{RootKeys: RootKeys{DevEUI: eui(n), JoinEUI: lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xf0, 0, 0, 1}}}
	for i := range d.AppKey {
		d.AppKey[i] = byte(0x30+i) ^ n
	}
	return d
}

// joinRequest builds the next join-request (a new DevNonce each time).
func (d *otaaDev) joinRequest(t testing.TB) ([]byte, lorawan.DevNonce) {
	t.Helper()
	d.nonce++
	dn := lorawan.DevNonce(d.nonce)
	p := lorawan.PHYPayload{
		MHDR:       lorawan.MHDR{MType: lorawan.JoinRequest, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.JoinRequestPayload{JoinEUI: d.JoinEUI, DevEUI: d.DevEUI, DevNonce: dn},
	}
	if err := p.SetUplinkJoinMIC(d.AppKey); err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b, dn
}

// joinAccept builds the server's encrypted join-accept and returns the
// session the device derives from it.
func (d *otaaDev) joinAccept(t testing.TB, dn lorawan.DevNonce, joinNonce uint32, addr lorawan.DevAddr) ([]byte, Session) {
	t.Helper()
	netID := lorawan.NetID{0x00, 0x00, 0x13}
	p := lorawan.PHYPayload{
		MHDR: lorawan.MHDR{MType: lorawan.JoinAccept, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.JoinAcceptPayload{
			JoinNonce: lorawan.JoinNonce(joinNonce), HomeNetID: netID, DevAddr: addr,
			DLSettings: lorawan.DLSettings{RX2DataRate: 3}, RXDelay: 1,
		},
	}
	if err := p.SetDownlinkJoinMIC(lorawan.JoinRequestType, d.JoinEUI, dn, d.AppKey); err != nil {
		t.Fatal(err)
	}
	if err := p.EncryptJoinAcceptPayload(d.AppKey); err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	jn, _ := lorawan.JoinNonce(joinNonce).MarshalBinary()
	nid, _ := netID.MarshalBinary()
	dnb, _ := dn.MarshalBinary()
	s := Session{DevEUI: d.DevEUI, DevAddr: addr}
	s.NwkSKey = testkit.SessionKey(d.AppKey, 0x01, jn, nid, dnb)
	s.AppSKey = testkit.SessionKey(d.AppKey, 0x02, jn, nid, dnb)
	return b, s
}

// memStore is a SessionStore in memory that survives a "restart" (a new
// Sessions, Joiner and Decoder) as a bbolt file would.
type memStore struct {
	mu    sync.Mutex
	recs  map[lorawan.EUI64][]byte
	saves int
}

func (m *memStore) SaveSessions(_ context.Context, recs map[lorawan.EUI64][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[lorawan.EUI64][]byte{}
	}
	for e, r := range recs {
		if r == nil {
			delete(m.recs, e)
		} else {
			m.recs[e] = append([]byte(nil), r...)
		}
	}
	m.saves++
	return nil
}

func (m *memStore) LoadSessions() (map[lorawan.EUI64][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.recs), nil
}

// otaaFixture is an agent's uplink side: sessions, joiner, decoder and
// persister over one store.
type otaaFixture struct {
	*fixture
	j *Joiner
	p *Persister
}

func newOTAAFixture(t testing.TB, store SessionStore, abp []Session, devs ...RootKeys) *otaaFixture {
	t.Helper()
	f := &otaaFixture{fixture: &fixture{s: NewSessions(), set: metrics.NewSet(), clk: &clock{t: t0}}}
	if err := f.s.Set(abp); err != nil {
		t.Fatal(err)
	}
	f.p = NewPersister(f.s, store, PersistOptions{}, nil)
	if _, err := f.p.Load(); err != nil {
		t.Fatal(err)
	}
	f.j = NewJoiner(f.s, JoinerOptions{Now: f.clk.Now}, nil, f.set)
	if err := f.j.SetDevices(devs); err != nil {
		t.Fatal(err)
	}
	f.d = NewDecoder(f.s, DecoderOptions{Now: f.clk.Now, Joiner: f.j}, nil, f.set)
	return f
}

// up decodes one reception of phy.
func (f *fixture) up(phy []byte) []Uplink {
	return f.d.Decode([]radio.Frame{frame(phy, 1, -80, 7)})
}

func (f *fixture) counter(name string) uint64 { return f.set.GetOrCreateCounter(name).Get() }

// joinRequest11 is joinRequest for a LoRaWAN 1.1 device: signed with the
// NwkKey.
func (d *otaaDev) joinRequest11(t testing.TB) ([]byte, lorawan.DevNonce) {
	t.Helper()
	d.nonce++
	dn := lorawan.DevNonce(d.nonce)
	p := lorawan.PHYPayload{
		MHDR:       lorawan.MHDR{MType: lorawan.JoinRequest, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.JoinRequestPayload{JoinEUI: d.JoinEUI, DevEUI: d.DevEUI, DevNonce: dn},
	}
	if err := p.SetUplinkJoinMIC(d.NwkKey); err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b, dn
}

// joinAccept11 is the server's answer to a 1.1 device: with OptNeg, signed
// with the JSIntKey; without, 1.0 signed with the NwkKey. Both are
// encrypted with the NwkKey. It returns the session keys the device
// derives: FNwkSIntKey, SNwkSIntKey and AppSKey (1.0: NwkSKey three times).
func (d *otaaDev) joinAccept11(t testing.TB, dn lorawan.DevNonce, joinNonce uint32, addr lorawan.DevAddr, optNeg bool) ([]byte, [3]lorawan.AES128Key) {
	t.Helper()
	netID := lorawan.NetID{0x00, 0x00, 0x13}
	p := lorawan.PHYPayload{
		MHDR: lorawan.MHDR{MType: lorawan.JoinAccept, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.JoinAcceptPayload{
			JoinNonce: lorawan.JoinNonce(joinNonce), HomeNetID: netID, DevAddr: addr,
			DLSettings: lorawan.DLSettings{RX2DataRate: 3, OptNeg: optNeg}, RXDelay: 1,
		},
	}
	devEUI, _ := d.DevEUI.MarshalBinary()
	micKey := d.NwkKey
	if optNeg {
		micKey = testkit.SessionKey(d.NwkKey, 0x06, devEUI)
	}
	if err := p.SetDownlinkJoinMIC(lorawan.JoinRequestType, d.JoinEUI, dn, micKey); err != nil {
		t.Fatal(err)
	}
	if err := p.EncryptJoinAcceptPayload(d.NwkKey); err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	jn, _ := lorawan.JoinNonce(joinNonce).MarshalBinary()
	id, _ := netID.MarshalBinary()
	if optNeg {
		id, _ = d.JoinEUI.MarshalBinary()
	}
	dnb, _ := dn.MarshalBinary()
	if !optNeg {
		nwk := testkit.SessionKey(d.NwkKey, 0x01, jn, id, dnb)
		return b, [3]lorawan.AES128Key{nwk, nwk, testkit.SessionKey(d.AppKey, 0x02, jn, id, dnb)}
	}
	return b, [3]lorawan.AES128Key{testkit.SessionKey(d.NwkKey, 0x01, jn, id, dnb), testkit.SessionKey(d.NwkKey, 0x03, jn, id, dnb),
		testkit.SessionKey(d.AppKey, 0x02, jn, id, dnb)}
}

// buildUp11 builds a LoRaWAN 1.1 data uplink with brocaar; txDR and txCh
// are what the network server assigned, unknown to the gateway.
func buildUp11(t testing.TB, addr lorawan.DevAddr, keys [3]lorawan.AES128Key, fcnt uint32, fport uint8, payload []byte, txDR, txCh uint8) []byte {
	t.Helper()
	p := lorawan.PHYPayload{
		MHDR: lorawan.MHDR{MType: lorawan.UnconfirmedDataUp, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.MACPayload{
			FHDR:       lorawan.FHDR{DevAddr: addr, FCnt: fcnt},
			FPort:      &fport,
			FRMPayload: []lorawan.Payload{&lorawan.DataPayload{Bytes: append([]byte(nil), payload...)}},
		},
	}
	if err := p.EncryptFRMPayload(keys[2]); err != nil {
		t.Fatal(err)
	}
	if err := p.SetUplinkDataMIC(lorawan.LoRaWAN1_1, 0, txDR, txCh, keys[0], keys[1]); err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
