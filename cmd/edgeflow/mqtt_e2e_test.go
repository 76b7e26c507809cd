package main_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/brocaar/lorawan"
	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"google.golang.org/protobuf/proto"

	"edgeflow/internal/testkit"
)

// TestAgentIngestsGatewayBridgeMQTT: a broker carries ChirpStack Gateway
// Bridge v3 JSON, v4 JSON and v4 protobuf uplinks with garbage between
// them; the agent delivers each once with its metadata.
func TestAgentIngestsGatewayBridgeMQTT(t *testing.T) {
	broker := testkit.StartBroker(t, testkit.BrokerOptions{})

	d := newDevice(4)
	ep := testkit.NewSink(t)
	cfg := configText(ep.URL, "on-outage", d) + fmt.Sprintf(`packetForwarder:
  udp:
    bind: "127.0.0.1:0"
  mqtt:
    server: "tcp://%s"
    topics: ["gateway/+/event/up", "eu868/gateway/+/event/up"]
`, broker.Addr)
	// configText already has a packetForwarder section: replace it.
	cfg = strings.Replace(cfg, "packetForwarder:\n  udp:\n    bind: \"127.0.0.1:0\"\napi:", "api:", 1)
	ag := testkit.StartAgent(t, cfg)
	ag.WaitLog(t, "Subscribed")

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
	pub := broker.Publish
	pub("gateway/aa555a0000000102/event/up", []byte("not json at all"))
	pub("gateway/aa555a0000000102/event/up", []byte(v3))
	pub("gateway/aa555a0000000101/event/up", []byte{0x0a, 0xff, 0xff, 0x01})
	pub("eu868/gateway/aa555a0000000101/event/up", []byte(v4))
	pub("gateway/aa555a0000000101/event/up", []byte(`{"phyPayload":"!!!"}`))
	pub("eu868/gateway/aa555a0000000103/event/up", pb)

	got := ep.WaitUplinks(t, 3)
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
	ag.Stop(t)
}
