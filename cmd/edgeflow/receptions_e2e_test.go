package main_test

import (
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// TestOneUplinkEveryReception: the same frame heard by two antennas in one
// datagram and by a second gateway 150 ms later is delivered once, with
// every reception in Lrrs and DevLrrCnt.
func TestOneUplinkEveryReception(t *testing.T) {
	d := newDevice(1)
	ep := testkit.NewSink(t)
	ag := testkit.StartAgent(t, configText(ep.URL, "on-outage", d))
	fw := newForwarder(t, ag.UDP)
	phy := d.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte("twice"))

	a0 := newRxpk(phy, -90, 2, "")
	a1 := newRxpk(phy, -80, 6, "") // the second antenna hears it better
	a1.Chan = 5
	fw.Push(2, a0, a1)

	time.Sleep(150 * time.Millisecond) // the second gateway hears it later, within the merge window
	other := [8]byte{0xaa, 0x55, 0x5a, 0, 0, 0, 0x02, 0x02}
	b := pushData(t, 2, 99, newRxpk(phy, -100, -1, ""))
	copy(b[4:12], other[:])
	if _, err := fw.Up.Write(b); err != nil {
		t.Fatal(err)
	}
	fw.Expect(fw.Up, []byte{2, 0, 99, 1}, "PUSH_ACK")

	got := ep.WaitUplinks(t, 1)[0]
	if got["DevLrrCnt"] != float64(3) {
		t.Errorf("DevLrrCnt = %v, want 3", got["DevLrrCnt"])
	}
	lrrs, _ := got["Lrrs"].(map[string]any)["Lrr"].([]any)
	if len(lrrs) != 3 {
		t.Fatalf("Lrrs = %v, want 3 receptions", got["Lrrs"])
	}
	want := []struct {
		id   string
		rssi float64
	}{{"00000101", -80}, {"00000101", -90}, {"00000202", -100}}
	for i, w := range want {
		l := lrrs[i].(map[string]any)
		if l["Lrrid"] != w.id || l["LrrRSSI"] != w.rssi {
			t.Errorf("Lrr[%d] = %v, want Lrrid %s RSSI %v (best first)", i, l, w.id, w.rssi)
		}
	}
	if got["LrrRSSI"] != float64(-80) || got["Lrrid"] != "00000101" {
		t.Errorf("best reception: Lrrid %v RSSI %v", got["Lrrid"], got["LrrRSSI"])
	}
	ag.Stop(t)
}
