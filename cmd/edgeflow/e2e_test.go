package main_test

import (
	"encoding/hex"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

func configText(endpointURL, persist string, devs ...device) string {
	var b strings.Builder
	fmt.Fprintf(&b, `packetForwarder:
  udp:
    bind: "127.0.0.1:0"
api:
  bind: "127.0.0.1:0"
buffer:
  path: "$DIR/buffer.db"
  persist: %q
connections:
  - {"name":"Actility To Cayenne","connectorId":"actility-http-iot","configuration":{"destinationURL":%q},"brand":"CAYENNE"}
devices:
`, persist, endpointURL)
	for _, d := range devs {
		b.WriteString(d.yaml())
	}
	return b.String()
}

type sent struct {
	dev     device
	fcnt    uint32
	fport   uint8
	payload []byte
	mtype   lorawan.MType
	rssi    float64
	snr     float64
	gpsTime string
}

// TestAgentDeliversABPUplinks drives the agent from outside as a packet
// forwarder and a Cayenne endpoint would: several devices, several uplinks
// per datagram, GWMP v1 and v2, counters across 65535, and frames that must
// not be forwarded among them. Each uplink must arrive once, field by field.
func TestAgentDeliversABPUplinks(t *testing.T) {
	for _, persist := range []string{"always", "on-outage"} {
		t.Run(persist, func(t *testing.T) { testDeliversABP(t, persist) })
	}
}

func testDeliversABP(t *testing.T, persist string) {
	d1, d2, d3 := newDevice(1), newDevice(2), newDevice(3)
	unknown := newDevice(9)
	ep := testkit.NewSink(t)
	ag := testkit.StartAgent(t, configText(ep.URL, persist, d1, d2, d3))
	fw := newForwarder(t, ag.UDP)
	fw.Pull(2)

	var want []sent
	mk := func(s sent) rxpk {
		want = append(want, s)
		return newRxpk(s.dev.frame(t, s.mtype, s.fcnt, port(s.fport), s.payload), s.rssi, s.snr, s.gpsTime)
	}
	up, cup := lorawan.UnconfirmedDataUp, lorawan.ConfirmedDataUp
	before := time.Now().Add(-time.Second)

	// Datagram 1 (GWMP v2): three devices, one with a GPS time.
	fw.Push(2,
		mk(sent{dev: d1, fcnt: 65534, fport: 1, payload: []byte{0x01, 0x67, 0x00, 0xfe}, mtype: up, rssi: -57, snr: 7.25}),
		mk(sent{dev: d2, fcnt: 10, fport: 2, payload: []byte("hello"), mtype: cup, rssi: -101, snr: -3.5}),
		mk(sent{dev: d3, fcnt: 1, fport: 3, payload: []byte{0xde, 0xad}, mtype: up, rssi: -80, snr: 7, gpsTime: "2026-11-25T10:00:00.123456Z"}),
	)
	// Datagram 2 (GWMP v1): one good frame among frames not to forward.
	crc := newRxpk(d2.frame(t, up, 11, port(2), []byte("crc")), -90, 5, "")
	crc.Stat = -1
	badMIC := d3.frame(t, up, 2, port(3), []byte{1})
	badMIC[len(badMIC)-1] ^= 0xff
	fw.Push(1,
		mk(sent{dev: d1, fcnt: 65535, fport: 1, payload: []byte{0x02}, mtype: up, rssi: -60, snr: 9}),
		crc,
		newRxpk(unknown.frame(t, up, 5, port(1), []byte("who")), -70, 5, ""),
		newRxpk(badMIC, -70, 5, ""),
	)
	// Datagram 3: the 16-bit counter wraps; a replay; a MAC-only frame.
	fw.Push(2,
		mk(sent{dev: d1, fcnt: 65536, fport: 1, payload: []byte{0x03}, mtype: up, rssi: -61, snr: 8}),
		newRxpk(d2.frame(t, cup, 10, port(2), []byte("hello")), -101, -3.5, ""),
		newRxpk(d3.frame(t, up, 2, port(0), []byte{0x02}), -70, 5, ""),
		mk(sent{dev: d1, fcnt: 65537, fport: 1, payload: []byte{0x04}, mtype: up, rssi: -62, snr: 8.5}),
	)
	// Datagram 4: a join request, an older counter, and one more good frame.
	join := []byte{0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x03, 0x03, 0x09, 0xb9, 0x7b, 0x32}
	noPort := d2.frame(t, up, 13, nil, nil)
	fw.Push(2,
		newRxpk(join, -70, 5, ""),
		newRxpk(d3.frame(t, up, 1, port(3), []byte{0xde, 0xad}), -80, 7, ""),
		newRxpk(noPort, -70, 5, ""),
		mk(sent{dev: d2, fcnt: 14, fport: 200, payload: nil, mtype: up, rssi: -100, snr: -20}),
	)
	after := time.Now().Add(time.Second)

	got := ep.WaitUplinks(t, len(want))
	seen := map[string]bool{}
	for _, doc := range got {
		key := fmt.Sprintf("%v/%v", doc["DevEUI"], doc["FCntUp"])
		if seen[key] {
			t.Errorf("uplink %s delivered twice", key)
		}
		seen[key] = true
		// Several requests are in flight at once (delivery.concurrency):
		// they leave in order, their arrivals may interleave.
	}
	for _, w := range want {
		eui := strings.ToUpper(w.dev.devEUI.String())
		var doc map[string]any
		for _, d := range got {
			if d["DevEUI"] == eui && d["FCntUp"] == float64(w.fcnt) {
				doc = d
			}
		}
		if doc == nil {
			t.Errorf("uplink %s FCnt %d not delivered", eui, w.fcnt)
			continue
		}
		check := func(field string, want any) {
			t.Helper()
			if doc[field] != want {
				t.Errorf("%s FCnt %d: %s = %#v, want %#v", eui, w.fcnt, field, doc[field], want)
			}
		}
		check("DevAddr", strings.ToUpper(w.dev.devAddr.String()))
		check("FPort", float64(w.fport))
		check("MType", float64(w.mtype))
		check("payload_hex", hex.EncodeToString(w.payload))
		check("LrrRSSI", w.rssi)
		check("LrrSNR", w.snr)
		check("SpFact", float64(7))
		check("Frequency", 868.5)
		check("Late", float64(0))
		check("DevLrrCnt", float64(1))
		check("ADRbit", float64(1))
		if _, ok := doc["CustomerID"].(string); !ok {
			t.Errorf("CustomerID = %#v, want a string", doc["CustomerID"])
		}
		esp := w.rssi + w.snr - 10*math.Log10(1+math.Pow(10, w.snr/10))
		if v, _ := doc["LrrESP"].(float64); math.Abs(v-esp) > 0.001 {
			t.Errorf("%s FCnt %d: LrrESP = %v, want %.3f", eui, w.fcnt, v, esp)
		}
		ts, _ := doc["Time"].(string)
		if w.gpsTime != "" {
			if ts != "2026-11-25T10:00:00.123+00:00" {
				t.Errorf("Time = %q, want the forwarder's GPS time 2026-11-25T10:00:00.123+00:00", ts)
			}
		} else if rt, err := time.Parse("2006-01-02T15:04:05.000-07:00", ts); err != nil || rt.Before(before) || rt.After(after) {
			t.Errorf("Time = %q (%v), want the reception time", ts, err)
		}
	}
	if acc := ep.Accepted(); len(acc) > 0 && acc[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", acc[0].Header.Get("Content-Type"))
	}
	ag.Stop(t)
}

func TestVersionCommand(t *testing.T) {
	out, err := exec.Command(testkit.AgentBinary(t), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "edgeflow ") {
		t.Fatalf("edgeflow version: %v %q", err, out)
	}
}
