package main_test

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"google.golang.org/protobuf/proto"
)

type allowAll struct{ mochi.HookBase }

func (allowAll) ID() string { return "allow-all" }
func (allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (allowAll) OnACLCheck(*mochi.Client, string, bool) bool              { return true }

// TestAgentIngestsGatewayBridgeMQTT: a broker carries ChirpStack Gateway
// Bridge v3 JSON, v4 JSON and v4 protobuf uplinks with garbage between
// them; the agent delivers each once with its metadata.
func TestAgentIngestsGatewayBridgeMQTT(t *testing.T) {
	broker := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := broker.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := broker.AddListener(l); err != nil {
		t.Fatal(err)
	}
	go func() { _ = broker.Serve() }()
	t.Cleanup(func() { _ = broker.Close() })

	d := newDevice(4)
	ep := newEndpoint(t)
	cfg := configText(ep.URL, "on-outage", d) + fmt.Sprintf(`packetForwarder:
  udp:
    bind: "127.0.0.1:0"
  mqtt:
    server: "tcp://%s"
    topics: ["gateway/+/event/up", "eu868/gateway/+/event/up"]
`, l.Address())
	// configText already has a packetForwarder section: replace it.
	cfg = strings.Replace(cfg, "packetForwarder:\n  udp:\n    bind: \"127.0.0.1:0\"\napi:", "api:", 1)
	ag := startAgent(t, cfg)
	waitLog(t, ag, "Subscribed", 10*time.Second)

	phy := func(fc uint32) []byte {
		return d.frame(t, lorawan.UnconfirmedDataUp, fc, port(1), []byte{byte(fc)})
	}
	v3 := fmt.Sprintf(`{"phyPayload":%q,"txInfo":{"frequency":868300000,"modulation":"LORA","loRaModulationInfo":{"bandwidth":125,"spreadingFactor":9,"codeRate":"4/5"}},"rxInfo":{"gatewayID":"qlVaAAAAAQI=","time":"2026-11-25T10:00:00.123456Z","rssi":-55,"loRaSNR":9.5,"channel":2,"rfChain":0,"context":"AAHiQA==","crcStatus":"CRC_OK"}}`,
		base64.StdEncoding.EncodeToString(phy(1)))
	v4 := fmt.Sprintf(`{"phyPayload":%q,"txInfo":{"frequency":868500000,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":7,"codeRate":"CR_4_5"}}},"rxInfo":{"gatewayId":"aa555a0000000101","uplinkId":1027,"gwTime":"2026-11-25T10:00:01.250Z","rssi":-57,"snr":7.25,"channel":2,"context":"AAHiQA==","crcStatus":"CRC_OK"}}`,
		base64.StdEncoding.EncodeToString(phy(2)))
	pb, err := proto.Marshal(&gw.UplinkFrame{
		PhyPayload: phy(3),
		TxInfo: &gw.UplinkTxInfo{Frequency: 867100000, Modulation: &gw.Modulation{Parameters: &gw.Modulation_Lora{
			Lora: &gw.LoraModulationInfo{Bandwidth: 125000, SpreadingFactor: 12, CodeRate: gw.CodeRate_CR_4_5}}}},
		RxInfo: &gw.UplinkRxInfo{GatewayId: "aa555a0000000103", Rssi: -110, Snr: -12.5, Channel: 5, Context: []byte{0, 1, 2, 3}, CrcStatus: gw.CRCStatus_CRC_OK},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := func(topic string, payload []byte) {
		if err := broker.Publish(topic, payload, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	pub("gateway/aa555a0000000102/event/up", []byte("not json at all"))
	pub("gateway/aa555a0000000102/event/up", []byte(v3))
	pub("gateway/aa555a0000000101/event/up", []byte{0x0a, 0xff, 0xff, 0x01})
	pub("eu868/gateway/aa555a0000000101/event/up", []byte(v4))
	pub("gateway/aa555a0000000101/event/up", []byte(`{"phyPayload":"!!!"}`))
	pub("eu868/gateway/aa555a0000000103/event/up", pb)

	got := ep.waitFor(t, 3, 15*time.Second)
	want := map[float64]struct {
		lrrid   string
		rssi    float64
		snr     float64
		sf      float64
		freq    float64
		timeStr string
	}{
		1: {"00000102", -55, 9.5, 9, 868.3, "2026-11-25T10:00:00.123+00:00"},
		2: {"00000101", -57, 7.25, 7, 868.5, "2026-11-25T10:00:01.250+00:00"},
		3: {"00000103", -110, -12.5, 12, 867.1, ""},
	}
	for _, doc := range got {
		fc := doc["FCntUp"].(float64)
		w, ok := want[fc]
		if !ok {
			t.Errorf("unexpected uplink FCnt %v", fc)
			continue
		}
		delete(want, fc)
		if doc["Lrrid"] != w.lrrid || doc["LrrRSSI"] != w.rssi || doc["LrrSNR"] != w.snr || doc["SpFact"] != w.sf || doc["Frequency"] != w.freq {
			t.Errorf("FCnt %v: Lrrid %v RSSI %v SNR %v SF %v freq %v, want %+v", fc, doc["Lrrid"], doc["LrrRSSI"], doc["LrrSNR"], doc["SpFact"], doc["Frequency"], w)
		}
		if w.timeStr != "" && doc["Time"] != w.timeStr {
			t.Errorf("FCnt %v: Time %v, want the bridge's time %s", fc, doc["Time"], w.timeStr)
		}
		if doc["payload_hex"] != fmt.Sprintf("%02x", int(fc)) {
			t.Errorf("FCnt %v: payload %v", fc, doc["payload_hex"])
		}
	}
	ag.stop(t)
}

// waitLog waits for a line containing s in the agent's log.
func waitLog(t *testing.T, ag *agentProc, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(ag.logText(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in the agent's log", s)
}
