package uplink

import (
	"bytes"
	"crypto/aes"
	"edgeflow/internal/testkit"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
)

const (
	v9Key  = "98929b92c49edba9676d646d3b612456"
	v10Key = "0102030405060708090a0b0c0d0e0f10"
	v10Req = "AAEBAQEBAQEBAgICAgICAgIDAwm5ezI="
	v10Acc = "ICPPM1SJquMYPAvguqje5fM="
)

func euiHex(t testing.TB, s string) lorawan.EUI64 {
	t.Helper()
	var e lorawan.EUI64
	if err := e.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return e
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// V9: a join-request's MIC with the AppKey, and the bad-MIC variant.
func TestJoinRequestV9(t *testing.T) {
	f := newOTAAFixture(t, &memStore{}, nil, RootKeys{
		DevEUI: euiHex(t, "3331383274356905"), JoinEUI: euiHex(t, "aa13693363343639"), AppKey: aesKey(t, v9Key)})
	if err := f.j.HandleJoinRequest(lorawan.EUI64{}, unhex(t, v9Hex)); err != nil {
		t.Fatalf("V9: %v", err)
	}
	bad := unhex(t, v9Hex)
	bad[len(bad)-1] = 0x05
	if err := f.j.HandleJoinRequest(lorawan.EUI64{}, bad); err != ErrJoinMIC {
		t.Fatalf("V9 bad MIC: %v", err)
	}
	if got := f.counter(MetricJoins + `{type="request"}`); got != 2 {
		t.Errorf("requests counted %d, want 2", got)
	}
	if got := f.counter(MetricJoinIgnored + `{reason="mic_failure"}`); got != 1 {
		t.Errorf("mic failures counted %d, want 1", got)
	}
}

// V10: brocaar's join-request and join-accept; the accept's plaintext
// gives DevAddr 01020304, JoinNonce 65793, NetID 020202.
func TestJoinAcceptV10(t *testing.T) {
	dev := RootKeys{DevEUI: euiHex(t, "0202020202020202"), JoinEUI: euiHex(t, "0101010101010101"), AppKey: aesKey(t, v10Key)}
	f := newOTAAFixture(t, &memStore{}, nil, dev)
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, b64(t, v10Acc)); err != ErrJoinNoRequest {
		t.Fatalf("accept without a request: %v", err)
	}
	if err := f.j.HandleJoinRequest(lorawan.EUI64{}, b64(t, v10Req)); err != nil {
		t.Fatal(err)
	}
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, b64(t, v10Acc)); err != nil {
		t.Fatal(err)
	}
	ps := f.s.tab.Load().byAddr[devAddr(t, "01020304")]
	if len(ps) != 1 || !ps[0].pending || ps[0].DevEUI != dev.DevEUI {
		t.Fatalf("pending sessions %v", ps)
	}
	jn, nid, dn := []byte{0x01, 0x01, 0x01}, []byte{0x02, 0x02, 0x02}, []byte{0x03, 0x03}
	if ps[0].NwkSKey != testkit.SessionKey(dev.AppKey, 1, jn, nid, dn) || ps[0].AppSKey != testkit.SessionKey(dev.AppKey, 2, jn, nid, dn) {
		t.Fatal("session keys differ from the specification's")
	}
	if got := f.counter(MetricJoins + `{type="accept"}`); got != 1 {
		t.Errorf("accepts counted %d", got)
	}
	// A data downlink is not a join-accept and is not counted.
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, unhex(t, v4Hex)); err != ErrNotJoinAccept {
		t.Fatalf("data downlink: %v", err)
	}
}

// V11: lora-packet's 1.0 key derivation and the plain join-accept's MIC.
func TestDeriveKeysV11(t *testing.T) {
	key := aesKey(t, v9Key)
	b, _ := aes.NewCipher(key[:])
	nwk, app := deriveKeys10(b, [3]byte{0x38, 0x63, 0x37}, [3]byte{0xcc, 0xbb, 0xaa}, [2]byte{0x8e, 0xf1})
	if nwk.String() != "4e3d6e6afbcc67af2ba3c8e8ec4acf4b" || app.String() != "610897aa6f1460623443b527d3ac6a9d" {
		t.Fatalf("keys %s %s", nwk, app)
	}
	c, _ := newCMACKey(key)
	if m := c.mic4(unhex(t, "20386337CCBBAAE7CD2C010000")); m.String() != "d9d0a6e7" {
		t.Fatalf("MIC %s", m)
	}
}

// A device joins through the server, then sends from its new address:
// each uplink is decoded once, decrypted, under its DevEUI.
func TestOTAAJoinThenUplinks(t *testing.T) {
	dev := newOTAADev(1)
	store := &memStore{}
	f := newOTAAFixture(t, store, nil, dev.RootKeys)
	req, dn := dev.joinRequest(t)
	if ups := f.up(req); len(ups) != 0 {
		t.Fatal("join-request delivered")
	}
	acc, sess := dev.joinAccept(t, dn, 7, lorawan.DevAddr{0x26, 0x01, 0x02, 0x03})
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	for fc := uint32(0); fc < 3; fc++ {
		ups := f.up(buildUp(t, sess, fc, port(2), []byte{byte(fc), 0xaa}, false))
		if len(ups) != 1 || ups[0].DevEUI != dev.DevEUI || ups[0].FCnt != fc || !bytes.Equal(ups[0].Payload, []byte{byte(fc), 0xaa}) {
			t.Fatalf("fcnt %d: %+v", fc, ups)
		}
	}
	if ups := f.up(buildUp(t, sess, 1, port(2), []byte{9}, false)); len(ups) != 0 {
		t.Fatal("replay delivered")
	}
	st := f.s.Snapshot()
	if len(st) != 1 || !st[0].Joined || st[0].PendingJoin || st[0].FCnt != 2 {
		t.Fatalf("snapshot %+v", st)
	}
	if f.dropped(ErrJoinRequest) != 1 || f.forwarded() != 3 {
		t.Fatalf("join_request dropped %d, forwarded %d", f.dropped(ErrJoinRequest), f.forwarded())
	}
}

// A rejoin whose accept the device never got: the old session goes on
// until an uplink verifies with a new one; then only the new one works.
func TestOTAARejoinLostAccept(t *testing.T) {
	dev := newOTAADev(2)
	f := newOTAAFixture(t, &memStore{}, nil, dev.RootKeys)
	join := func(jn uint32, addr lorawan.DevAddr) Session {
		req, dn := dev.joinRequest(t)
		f.up(req)
		acc, s := dev.joinAccept(t, dn, jn, addr)
		if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := join(1, lorawan.DevAddr{0x26, 0, 0, 1})
	if len(f.up(buildUp(t, old, 0, port(1), []byte("a"), false))) != 1 {
		t.Fatal("first session refused")
	}
	f.clk.Add(time.Minute)
	lost := join(2, lorawan.DevAddr{0x26, 0, 0, 2}) // the device missed this accept
	if len(f.up(buildUp(t, old, 1, port(1), []byte("b"), false))) != 1 {
		t.Fatal("old session dropped before the new one was used")
	}
	f.clk.Add(time.Minute)
	// Rejoin with the same address as the active session: MIC decides.
	renewed := join(3, lorawan.DevAddr{0x26, 0, 0, 1})
	if len(f.up(buildUp(t, old, 2, port(1), []byte("c"), false))) != 1 {
		t.Fatal("old session dropped before the new one was used")
	}
	ups := f.up(buildUp(t, renewed, 0, port(1), []byte("d"), false))
	if len(ups) != 1 || ups[0].DevEUI != dev.DevEUI || string(ups[0].Payload) != "d" {
		t.Fatalf("new session: %+v", ups)
	}
	for _, s := range []Session{old, lost} {
		if len(f.up(buildUp(t, s, 5, port(1), []byte("e"), false))) != 0 {
			t.Fatalf("session %s still accepted after the rejoin", s.DevAddr)
		}
	}
}

// A restart between the join and the first uplink, and another after it:
// the pending session and the counter come back from the store.
func TestOTAARestartBetweenJoinAndUplink(t *testing.T) {
	dev := newOTAADev(3)
	store := &memStore{}
	f := newOTAAFixture(t, store, nil, dev.RootKeys)
	req, dn := dev.joinRequest(t)
	f.up(req)
	acc, sess := dev.joinAccept(t, dn, 9, lorawan.DevAddr{0x26, 0, 0, 3})
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	f = newOTAAFixture(t, store, nil, dev.RootKeys) // restart
	for fc := uint32(0); fc < 5; fc++ {
		if ups := f.up(buildUp(t, sess, fc, port(1), []byte("x"), false)); len(ups) != 1 || ups[0].DevEUI != dev.DevEUI {
			t.Fatalf("fcnt %d after restart: %+v", fc, ups)
		}
	}
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	f = newOTAAFixture(t, store, nil, dev.RootKeys) // restart again
	if ups := f.up(buildUp(t, sess, 4, port(1), []byte("x"), false)); len(ups) != 0 {
		t.Fatal("replay accepted after restart")
	}
	if ups := f.up(buildUp(t, sess, 5, port(1), []byte("y"), false)); len(ups) != 1 {
		t.Fatal("next uplink refused after restart")
	}
	// A device removed from the configuration loses its learnt session.
	if err := f.j.SetDevices(nil); err != nil {
		t.Fatal(err)
	}
	if ups := f.up(buildUp(t, sess, 6, port(1), []byte("z"), false)); len(ups) != 0 {
		t.Fatal("removed device still decoded")
	}
}

// An ABP device that resets its counter: a restart at a low counter is
// accepted; a replay of a frame since the restart, or of an older frame
// above the restart threshold, is not.
func TestRelaxFCntRestartVersusReplay(t *testing.T) {
	s := v1Session(t)
	s.RelaxFCnt = true
	store := &memStore{}
	f := newOTAAFixture(t, store, []Session{s})
	send := func(fc uint32, payload string) []Uplink {
		f.clk.Add(time.Minute) // past the de-duplication window
		return f.up(buildUp(t, s, fc, port(1), []byte(payload), false))
	}
	for fc := uint32(0); fc <= 40; fc++ {
		if len(send(fc, fmt.Sprint("boot1-", fc))) != 1 {
			t.Fatalf("fcnt %d refused", fc)
		}
	}
	if len(send(30, "boot1-30")) != 0 {
		t.Fatal("replay of an old frame above the restart threshold accepted")
	}
	if len(send(0, "boot2-0")) != 1 || len(send(1, "boot2-1")) != 1 {
		t.Fatal("restart at a low counter refused")
	}
	if len(send(0, "boot2-0")) != 0 {
		t.Fatal("replay of a frame of the current counter session accepted")
	}
	if len(send(1, "boot2-1")) != 0 {
		t.Fatal("replay of the last frame accepted")
	}
	// What the option gives up: a low frame from before the last restart
	// cannot be told from another restart (the device's config says so).
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	f = newOTAAFixture(t, store, []Session{s}) // restart: the low frames' MICs are kept
	if len(send(0, "boot2-0")) != 0 {
		t.Fatal("replay accepted after restart")
	}
	if len(send(2, "boot2-2")) != 1 {
		t.Fatal("next frame refused after restart")
	}
}

// An ABP device and an OTAA device end up with one DevAddr: the MIC tells
// their frames apart.
func TestDevAddrCollisionABPAndOTAA(t *testing.T) {
	dev := newOTAADev(4)
	abp := v1Session(t)
	f := newOTAAFixture(t, &memStore{}, []Session{abp}, dev.RootKeys)
	req, dn := dev.joinRequest(t)
	f.up(req)
	acc, sess := dev.joinAccept(t, dn, 11, abp.DevAddr)
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	for fc := uint32(0); fc < 3; fc++ {
		a := f.up(buildUp(t, abp, 100+fc, port(1), []byte("abp"), false))
		o := f.up(buildUp(t, sess, fc, port(1), []byte("otaa"), false))
		if len(a) != 1 || a[0].DevEUI != abp.DevEUI || string(a[0].Payload) != "abp" {
			t.Fatalf("ABP uplink %d: %+v", fc, a)
		}
		if len(o) != 1 || o[0].DevEUI != dev.DevEUI || string(o[0].Payload) != "otaa" {
			t.Fatalf("OTAA uplink %d: %+v", fc, o)
		}
	}
}

// A join of an unknown device is counted each time and logged once; keys
// are never logged.
func TestJoinUnknownDeviceLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	dev, other := newOTAADev(5), newOTAADev(6)
	s := NewSessions()
	j := NewJoiner(s, JoinerOptions{}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	if err := j.SetDevices([]RootKeys{dev.RootKeys}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ := other.joinRequest(t)
		if err := j.HandleJoinRequest(lorawan.EUI64{}, req); err != ErrJoinUnknownDevice {
			t.Fatal(err)
		}
	}
	req, dn := dev.joinRequest(t)
	if err := j.HandleJoinRequest(lorawan.EUI64{}, req); err != nil {
		t.Fatal(err)
	}
	acc, sess := dev.joinAccept(t, dn, 1, lorawan.DevAddr{1, 2, 3, 4})
	if err := j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "not configured for OTAA"); n != 1 {
		t.Fatalf("unknown device logged %d times:\n%s", n, out)
	}
	j2, _ := json.Marshal(dev.RootKeys)
	out += fmt.Sprintf("%v %+v %#v %s", dev.RootKeys, dev.RootKeys, dev.RootKeys, j2)
	for _, k := range []lorawan.AES128Key{dev.AppKey, sess.NwkSKey, sess.AppSKey} {
		if strings.Contains(strings.ToLower(out), k.String()) {
			t.Fatalf("key printed:\n%s", out)
		}
	}
}

// A LoRaWAN 1.1 device: with a 1.1 server (OptNeg) the session has four
// keys and its uplinks carry the two-key MIC; with a 1.0 server it falls
// back to 1.0 keys derived from the NwkKey. Both decode, across a restart.
func TestOTAALoRaWAN11(t *testing.T) {
	dev := newOTAADev(8)
	for i := range dev.NwkKey {
		dev.NwkKey[i] = byte(0x90 + i)
	}
	store := &memStore{}
	f := newOTAAFixture(t, store, nil, dev.RootKeys)
	req, dn := dev.joinRequest11(t)
	if err := f.j.HandleJoinRequest(lorawan.EUI64{}, req); err != nil {
		t.Fatalf("1.1 join-request (NwkKey MIC): %v", err)
	}
	addr := lorawan.DevAddr{0x26, 0, 0x11, 1}
	acc, keys := dev.joinAccept11(t, dn, 21, addr, true)
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	f = newOTAAFixture(t, store, nil, dev.RootKeys) // the pending 1.1 session survives
	for fc := uint32(0); fc < 3; fc++ {
		ups := f.up(buildUp11(t, addr, keys, fc, 4, []byte("v11"), uint8(fc), uint8(2*fc)))
		if len(ups) != 1 || ups[0].DevEUI != dev.DevEUI || string(ups[0].Payload) != "v11" || ups[0].FCnt != fc {
			t.Fatalf("1.1 uplink %d: %+v", fc, ups)
		}
	}
	// A frame signed with another FNwkSIntKey is refused.
	wrong := keys
	wrong[0][0] ^= 1
	if ups := f.up(buildUp11(t, addr, wrong, 3, 4, []byte("x"), 0, 0)); len(ups) != 0 {
		t.Fatal("frame with a wrong FNwkSIntKey accepted")
	}

	// Rejoin with a 1.0 server: OptNeg unset, 1.0 keys from the NwkKey.
	f.clk.Add(time.Minute)
	req, dn = dev.joinRequest11(t)
	f.up(req)
	addr10 := lorawan.DevAddr{0x26, 0, 0x10, 1}
	acc, keys10 := dev.joinAccept11(t, dn, 22, addr10, false)
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	s10 := Session{DevEUI: dev.DevEUI, DevAddr: addr10, NwkSKey: keys10[0], AppSKey: keys10[2]}
	if ups := f.up(buildUp(t, s10, 0, port(4), []byte("v10"), false)); len(ups) != 1 || string(ups[0].Payload) != "v10" {
		t.Fatalf("1.1 device with a 1.0 server: %+v", ups)
	}
}

// A device removed from the configuration has its saved record deleted.
func TestRemovedDeviceRecordDeleted(t *testing.T) {
	s := v1Session(t)
	store := &memStore{}
	f := newOTAAFixture(t, store, []Session{s})
	if len(f.up(buildUp(t, s, 1, port(1), []byte("a"), false))) != 1 {
		t.Fatal("not decoded")
	}
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(store.recs) != 1 {
		t.Fatalf("%d records", len(store.recs))
	}
	if err := f.s.Set(nil); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(store.recs) != 0 {
		t.Fatalf("%d records after removal", len(store.recs))
	}
}

// Join-accepts arrive on the relay's goroutine while frames are decoded,
// the status page takes snapshots and the persister saves: run them
// together (under -race in CI).
func TestJoinConcurrentWithDecodeAndSave(t *testing.T) {
	devs := []*otaaDev{newOTAADev(11), newOTAADev(12), newOTAADev(13)}
	store := &memStore{}
	var roots []RootKeys
	for _, d := range devs {
		roots = append(roots, d.RootKeys)
	}
	f := newOTAAFixture(t, store, []Session{v1Session(t)}, roots...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			f.s.Snapshot()
			_ = f.p.Flush(t.Context())
		}
	}()
	for i, d := range devs {
		for k := range 5 {
			req, dn := d.joinRequest(t)
			f.up(req)
			acc, sess := d.joinAccept(t, dn, uint32(10*i+k), lorawan.DevAddr{0x26, 1, byte(i), byte(k)})
			errc := make(chan error, 1)
			go func() { errc <- f.j.HandleJoinAccept(lorawan.EUI64{}, acc) }()
			f.up(buildUp(t, v1Session(t), uint32(100*i+10*k), port(1), []byte("abp"), false))
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if ups := f.up(buildUp(t, sess, 0, port(1), []byte("otaa"), false)); len(ups) != 1 {
				t.Fatalf("device %d join %d: %+v", i, k, ups)
			}
		}
	}
	<-done
}

// TestLoRaWAN11ForwardGap: only 16 bits of a 1.1 MIC can be checked here,
// so one frame may move the counter at most maxFCntGap11 ahead; a longer
// jump needs a second frame that verifies just after it.
func TestLoRaWAN11ForwardGap(t *testing.T) {
	dev := newOTAADev(9)
	for i := range dev.NwkKey {
		dev.NwkKey[i] = byte(0xa0 + i)
	}
	f := newOTAAFixture(t, &memStore{}, nil, dev.RootKeys)
	req, dn := dev.joinRequest11(t)
	if err := f.j.HandleJoinRequest(lorawan.EUI64{}, req); err != nil {
		t.Fatal(err)
	}
	addr := lorawan.DevAddr{0x26, 0, 0x11, 9}
	acc, keys := dev.joinAccept11(t, dn, 31, addr, true)
	if err := f.j.HandleJoinAccept(lorawan.EUI64{}, acc); err != nil {
		t.Fatal(err)
	}
	up := func(fc uint32) bool {
		return len(f.up(buildUp11(t, addr, keys, fc, 4, []byte("g"), 0, 0))) == 1
	}
	if !up(2) || !up(2+maxFCntGap11) {
		t.Fatal("a jump within the gap was refused")
	}
	far := uint32(2 + 2*maxFCntGap11 + 1)
	if up(far) {
		t.Fatalf("one frame moved the counter %d ahead", far-(2+maxFCntGap11))
	}
	if up(far + farConfirm + 1) {
		t.Fatal("a frame too far from the first of a long jump confirmed it")
	}
	if !up(far + farConfirm + 3) {
		t.Fatal("a long jump confirmed by a second frame was refused")
	}
	if !up(far + farConfirm + 4) {
		t.Fatal("the frame after a confirmed jump was refused")
	}
}
