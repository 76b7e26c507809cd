package main_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// otaaDevice joins through the network server stand-in and then sends
// uplinks with the session both sides derived.
type otaaDevice struct {
	devEUI, joinEUI lorawan.EUI64
	appKey          lorawan.AES128Key
	nonce           uint16
}

func newOTAADevice(n byte) *otaaDevice {
	d := &otaaDevice{
		devEUI:  lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0x0a, 0, n},
		joinEUI: lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 0},
	}
	for i := range d.appKey {
		d.appKey[i] = byte(0x51+i) ^ n
	}
	return d
}

func (d *otaaDevice) yaml() string {
	return fmt.Sprintf("  - devEUI: %q\n    joinEUI: %q\n    appKey: %q\n",
		strings.ToUpper(d.devEUI.String()), strings.ToUpper(d.joinEUI.String()), d.appKey.String())
}

func (d *otaaDevice) joinRequest(t testing.TB) []byte {
	t.Helper()
	d.nonce++
	p := lorawan.PHYPayload{
		MHDR:       lorawan.MHDR{MType: lorawan.JoinRequest, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.JoinRequestPayload{JoinEUI: d.joinEUI, DevEUI: d.devEUI, DevNonce: lorawan.DevNonce(d.nonce)},
	}
	if err := p.SetUplinkJoinMIC(d.appKey); err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// accept decrypts a join-accept as the device does and returns its session.
func (d *otaaDevice) accept(t testing.TB, phyAccept []byte, devNonce lorawan.DevNonce) device {
	t.Helper()
	var p lorawan.PHYPayload
	if err := p.UnmarshalBinary(phyAccept); err != nil {
		t.Fatal(err)
	}
	if err := p.DecryptJoinAcceptPayload(d.appKey); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.ValidateDownlinkJoinMIC(lorawan.JoinRequestType, d.joinEUI, devNonce, d.appKey); err != nil || !ok {
		t.Fatalf("join-accept MIC: %v %v", ok, err)
	}
	ja := p.MACPayload.(*lorawan.JoinAcceptPayload)
	nwk, app := testkit.SessionKeys(d.appKey, ja.JoinNonce, ja.HomeNetID, devNonce)
	return device{devEUI: d.devEUI, devAddr: ja.DevAddr, nwkSKey: nwk, appSKey: app}
}

// networkServer is a stand-in network server behind the agent's relay: it
// acknowledges what the gateway sends and answers each join-request with a
// join-accept in a PULL_RESP, as ChirpStack or TTS would.
type networkServer struct {
	t    testing.TB
	conn *net.UDPConn
	keys map[lorawan.EUI64]lorawan.AES128Key

	mu       sync.Mutex
	pullAddr *net.UDPAddr // where the gateway's PULL_DATA came from
	next     uint32       // JoinNonce and DevAddr of the next accept
	joins    int
}

func newNetworkServer(t testing.TB, devs ...*otaaDevice) *networkServer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ns := &networkServer{t: t, conn: c, keys: map[lorawan.EUI64]lorawan.AES128Key{}, next: 0x100}
	for _, d := range devs {
		ns.keys[d.devEUI] = d.appKey
	}
	t.Cleanup(func() { c.Close() })
	go ns.serve()
	return ns
}

func (ns *networkServer) addr() string { return ns.conn.LocalAddr().String() }

func (ns *networkServer) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := ns.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		if len(b) < 12 {
			continue
		}
		switch b[3] {
		case 0x00: // PUSH_DATA
			_, _ = ns.conn.WriteToUDP([]byte{b[0], b[1], b[2], 0x01}, from)
			var body struct{ RXPK []struct{ Data string } }
			if json.Unmarshal(b[12:], &body) != nil {
				continue
			}
			for _, r := range body.RXPK {
				phy, err := base64.StdEncoding.DecodeString(r.Data)
				if err == nil && len(phy) == 23 && lorawan.MType(phy[0]>>5) == lorawan.JoinRequest {
					ns.answerJoin(b[0], phy)
				}
			}
		case 0x02: // PULL_DATA
			ns.mu.Lock()
			ns.pullAddr = from
			ns.mu.Unlock()
			_, _ = ns.conn.WriteToUDP([]byte{b[0], b[1], b[2], 0x04}, from)
		}
	}
}

func (ns *networkServer) answerJoin(version byte, phy []byte) {
	var req lorawan.PHYPayload
	if err := req.UnmarshalBinary(phy); err != nil {
		return
	}
	jr := req.MACPayload.(*lorawan.JoinRequestPayload)
	key, ok := ns.keys[jr.DevEUI]
	if !ok {
		return
	}
	ns.mu.Lock()
	ns.next++
	jn := ns.next
	ns.joins++
	to := ns.pullAddr
	ns.mu.Unlock()
	p := lorawan.PHYPayload{
		MHDR: lorawan.MHDR{MType: lorawan.JoinAccept, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.JoinAcceptPayload{JoinNonce: lorawan.JoinNonce(jn), HomeNetID: lorawan.NetID{0, 0, 0x13},
			DevAddr: lorawan.DevAddr{0x26, 0x0c, byte(jn >> 8), byte(jn)}, RXDelay: 1},
	}
	if p.SetDownlinkJoinMIC(lorawan.JoinRequestType, jr.JoinEUI, jr.DevNonce, key) != nil || p.EncryptJoinAcceptPayload(key) != nil {
		ns.t.Error("cannot build join-accept")
		return
	}
	acc, _ := p.MarshalBinary()
	txpk, _ := json.Marshal(map[string]any{"txpk": map[string]any{
		"imme": false, "tmst": 5000000, "freq": 868.1, "rfch": 0, "powe": 14, "modu": "LORA",
		"datr": "SF7BW125", "codr": "4/5", "ipol": true, "size": len(acc), "data": base64.StdEncoding.EncodeToString(acc)}})
	if to == nil {
		ns.t.Error("join-request before any PULL_DATA")
		return
	}
	_, _ = ns.conn.WriteToUDP(append([]byte{version, byte(jn >> 8), byte(jn), 0x03}, txpk...), to)
}

// join has the device join through the relay and returns its session.
func join(t testing.TB, fw *forwarder, d *otaaDevice) device {
	t.Helper()
	fw.Push(2, newRxpk(d.joinRequest(t), -70, 8, ""))
	return d.accept(t, fw.PullResp(), lorawan.DevNonce(d.nonce))
}

func otaaConfig(endpointURL, upstream string, otaa []*otaaDevice, abp ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `packetForwarder:
  udp:
    bind: "127.0.0.1:0"
    upstreams: [%q]
api:
  bind: "127.0.0.1:0"
buffer:
  path: "$DIR/buffer.db"
connections:
  - {"name":"Actility To Cayenne","connectorId":"actility-http-iot","configuration":{"destinationURL":%q},"brand":"CAYENNE"}
devices:
`, upstream, endpointURL)
	for _, d := range otaa {
		b.WriteString(d.yaml())
	}
	for _, a := range abp {
		b.WriteString(a)
	}
	return b.String()
}

// TestAgentOTAAJoinThroughRelay: a device joins through a network server
// behind the relay, then sends from its new address; each uplink arrives
// once, decrypted, under its DevEUI. Then the agent restarts (cleanly and
// with SIGKILL) between a join and the first uplink, the device rejoins,
// and an ABP device that resets its counter is accepted while a replay is
// not.
func TestAgentOTAAJoinThroughRelay(t *testing.T) {
	dev, stranger := newOTAADevice(1), newOTAADevice(2)
	ns := newNetworkServer(t, dev, stranger)
	ep := testkit.NewSink(t)
	relaxed := newDevice(7)
	cfg := otaaConfig(ep.URL, ns.addr(), []*otaaDevice{dev}, relaxed.yaml()+"    relaxFCnt: true\n")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(cfg, "$DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.StartAgentFile(t, cfgPath)
	fw := newForwarder(t, ag.UDP)
	fw.Pull(2)

	// A device the agent does not know joins too: its accept passes by,
	// nothing is decoded, and it is logged once.
	strangerSess := join(t, fw, stranger)
	s1 := join(t, fw, dev)
	for fc := uint32(0); fc < 3; fc++ {
		fw.Push(2, newRxpk(s1.frame(t, lorawan.UnconfirmedDataUp, fc, port(5), []byte{0xca, 0xfe, byte(fc)}), -60, 9, ""))
		fw.Push(2, newRxpk(strangerSess.frame(t, lorawan.UnconfirmedDataUp, fc, port(5), []byte{1}), -60, 9, ""))
	}
	docs := ep.WaitUplinks(t, 3)
	// Requests in flight together may arrive in any order.
	slices.SortFunc(docs, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["payload_hex"]), fmt.Sprint(b["payload_hex"]))
	})
	for i, doc := range docs {
		if doc["DevEUI"] != strings.ToUpper(dev.devEUI.String()) || doc["DevAddr"] != strings.ToUpper(s1.devAddr.String()) ||
			doc["payload_hex"] != fmt.Sprintf("cafe%02x", i) || doc["FCntUp"] != float64(i) {
			t.Fatalf("uplink %d: %v", i, doc)
		}
	}

	// Rejoin, then a clean restart before the first uplink of the new session.
	s2 := join(t, fw, dev)
	ag.Stop(t)
	ag = testkit.StartAgentFile(t, cfgPath)
	fw = newForwarder(t, ag.UDP)
	fw.Pull(2)
	fw.Push(2, newRxpk(s1.frame(t, lorawan.UnconfirmedDataUp, 2, port(5), []byte{0xee}), -60, 9, "")) // a replay
	fw.Push(2, newRxpk(s1.frame(t, lorawan.UnconfirmedDataUp, 3, port(5), []byte{0x03}), -60, 9, "")) // old session, still valid
	fw.Push(2, newRxpk(s2.frame(t, lorawan.UnconfirmedDataUp, 0, port(5), []byte{0x10}), -60, 9, "")) // the new one takes over
	fw.Push(2, newRxpk(s1.frame(t, lorawan.UnconfirmedDataUp, 4, port(5), []byte{0xee}), -60, 9, "")) // the old one is gone
	fw.Push(2, newRxpk(s2.frame(t, lorawan.UnconfirmedDataUp, 1, port(5), []byte{0x11}), -60, 9, ""))
	docs = ep.WaitUplinks(t, 6)[3:]
	// Requests in flight together may arrive in any order.
	slices.SortFunc(docs, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["payload_hex"]), fmt.Sprint(b["payload_hex"]))
	})
	for i, want := range []string{"03", "10", "11"} {
		if docs[i]["payload_hex"] != want || docs[i]["DevEUI"] != strings.ToUpper(dev.devEUI.String()) {
			t.Fatalf("after restart, uplink %d: %v", i, docs[i])
		}
	}

	// Rejoin, SIGKILL before the first uplink: the new session was saved
	// when the accept passed.
	s3 := join(t, fw, dev)
	// The pending session is saved by the agent's next commit, which
	// shows nowhere outside the process: a second is many commits.
	time.Sleep(time.Second)
	ag.Kill()
	ag = testkit.StartAgentFile(t, cfgPath)
	fw = newForwarder(t, ag.UDP)
	fw.Pull(2)
	fw.Push(2, newRxpk(s3.frame(t, lorawan.UnconfirmedDataUp, 0, port(5), []byte{0x20}), -60, 9, ""))

	// The ABP device resets its counter: accepted; a replay: dropped.
	for _, fc := range []uint32{40, 41, 0} {
		fw.Push(2, newRxpk(relaxed.frame(t, lorawan.UnconfirmedDataUp, fc, port(1), []byte{byte(fc)}), -60, 9, ""))
	}
	time.Sleep(11 * time.Second) // past the agent's 10 s de-duplication window (a real process: real time)
	fw.Push(2, newRxpk(relaxed.frame(t, lorawan.UnconfirmedDataUp, 0, port(1), []byte{0}), -60, 9, ""))
	fw.Push(2, newRxpk(relaxed.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte{1}), -60, 9, ""))
	docs = ep.WaitUplinks(t, 11)[6:]
	wantDocs := []struct{ eui, hex string }{
		{strings.ToUpper(dev.devEUI.String()), "20"},
		{strings.ToUpper(relaxed.devEUI.String()), "28"},
		{strings.ToUpper(relaxed.devEUI.String()), "29"},
		{strings.ToUpper(relaxed.devEUI.String()), "00"},
		{strings.ToUpper(relaxed.devEUI.String()), "01"},
	}
	// Requests in flight together may arrive in any order: compare sets.
	gotDocs := map[string]bool{}
	for _, d := range docs {
		gotDocs[fmt.Sprint(d["DevEUI"], "/", d["payload_hex"])] = true
	}
	for i, w := range wantDocs {
		if !gotDocs[w.eui+"/"+w.hex] {
			t.Fatalf("after SIGKILL, uplink %d (%s %s) missing from %v", i, w.eui, w.hex, docs)
		}
	}
	if n := strings.Count(ag.Log(), "not configured for OTAA"); n > 1 {
		t.Errorf("unknown device logged %d times", n)
	}
	for _, k := range []lorawan.AES128Key{dev.appKey, s1.nwkSKey, s1.appSKey, s3.appSKey} {
		if strings.Contains(strings.ToLower(ag.Log()), k.String()) {
			t.Fatalf("key in the log:\n%s", ag.Log())
		}
	}
}

// TestAgentDevicesFileReload: devices listed in devicesFile are decoded,
// and a line added to the file while the agent runs takes effect without a
// restart; a broken file is refused with its line and the running devices
// stay.
func TestAgentDevicesFileReload(t *testing.T) {
	d1, d2 := newDevice(21), newDevice(22)
	ep := testkit.NewSink(t)
	dir := t.TempDir()
	csvLine := func(d device) string {
		return fmt.Sprintf("%s,ABP,%s,%s,%s,,,,\n", d.devEUI, d.devAddr, d.nwkSKey, d.appSKey)
	}
	header := "devEUI,activation,devAddr,nwkSKey,appSKey,joinEUI,appKey,name,relaxFCnt\n"
	csvPath := filepath.Join(dir, "devices.csv")
	if err := os.WriteFile(csvPath, []byte(header+csvLine(d1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(configText(ep.URL, "on-outage"), "$DIR", dir) + "devicesFile: devices.csv\n"
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.StartAgentFile(t, cfgPath)
	fw := newForwarder(t, ag.UDP)
	fw.Push(2, newRxpk(d1.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte{1}), -60, 9, ""))
	fw.Push(2, newRxpk(d2.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte{2}), -60, 9, "")) // not listed yet
	ep.WaitUplinks(t, 1)

	bad := header + csvLine(d1) + csvLine(d2) + "70B3D57ED00000FF,ABP,260B00FF,00112233,,,,,\n"
	if err := os.WriteFile(csvPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.WaitLog(t, "keeping the running one")
	if !strings.Contains(ag.Log(), csvPath+":4: nwkSKey: nwkSKey must be 32 hex digits") {
		t.Fatalf("the broken line is not named:\n%s", ag.Log())
	}
	if err := os.WriteFile(csvPath, []byte(header+csvLine(d1)+csvLine(d2)), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.WaitLog(t, "configuration reloaded")
	fw.Push(2, newRxpk(d2.frame(t, lorawan.UnconfirmedDataUp, 2, port(1), []byte{3}), -60, 9, ""))
	fw.Push(2, newRxpk(d1.frame(t, lorawan.UnconfirmedDataUp, 2, port(1), []byte{4}), -60, 9, ""))
	docs := ep.WaitUplinks(t, 3)
	// Requests in flight together may arrive in any order.
	slices.SortFunc(docs[1:], func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["payload_hex"]), fmt.Sprint(b["payload_hex"]))
	})
	if docs[1]["DevEUI"] != strings.ToUpper(d2.devEUI.String()) || docs[1]["payload_hex"] != "03" || docs[2]["payload_hex"] != "04" {
		t.Fatalf("after reload: %v", docs)
	}
}

// TestAgentCounterSurvivesSIGKILL: with persist "always" an acknowledged
// uplink's counter is on flash before the PUSH_ACK, so after a SIGKILL a
// replay of that very frame is dropped. (With on-outage counters are saved
// each minute and on shutdown: a replay from the last minute before a
// crash would pass; see uplink.Persister.)
func TestAgentCounterSurvivesSIGKILL(t *testing.T) {
	d := newDevice(31)
	ep := testkit.NewSink(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(configText(ep.URL, "always", d), "$DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.StartAgentFile(t, cfgPath)
	fw := newForwarder(t, ag.UDP)
	frame5 := newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 5, port(1), []byte{5}), -60, 9, "")
	fw.Push(2, frame5) // returns once acknowledged
	ep.WaitUplinks(t, 1)
	ag.Kill()
	ag = testkit.StartAgentFile(t, cfgPath)
	fw = newForwarder(t, ag.UDP)
	fw.Push(2, frame5)
	fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 6, port(1), []byte{6}), -60, 9, ""))
	ep.Wait(t, "uplink 6", func([]*testkit.Request) bool { return slicesContainsFCnt(ep.Uplinks(), 6) })
	// Uplink 5 may come twice if the SIGKILL beat its delivery's ack: the
	// second time from the buffer, Late 1. A replay accepted would come
	// live, Late 0.
	live5 := 0
	for _, doc := range ep.Uplinks() {
		if doc["FCntUp"] == float64(5) && doc["Late"] == float64(0) {
			live5++
		}
	}
	if live5 != 1 || !slicesContainsFCnt(ep.Uplinks(), 6) {
		t.Fatalf("uplink 5 delivered live %d times (a replay accepted after SIGKILL?): %v", live5, ep.Uplinks())
	}
}

func slicesContainsFCnt(docs []map[string]any, fcnt float64) bool {
	for _, d := range docs {
		if d["FCntUp"] == fcnt {
			return true
		}
	}
	return false
}
