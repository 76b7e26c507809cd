package bridge

import (
	"bytes"
	"context"
	"edgeflow/internal/testkit"
	"encoding/base64"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"edgeflow/radio"
)

// v10Accept is the join-accept of vector V10 (brocaar's example).
var v10Accept, _ = base64.StdEncoding.DecodeString("ICPPM1SJquMYPAvguqje5fM=")

func TestDecodeBridgeDownlink(t *testing.T) {
	v4 := &gw.DownlinkFrame{DownlinkId: 7, GatewayId: "0016c001ff10a235", Items: []*gw.DownlinkFrameItem{
		{PhyPayload: v10Accept, TxInfo: &gw.DownlinkTxInfo{Frequency: 868100000, Power: 14}},
		{PhyPayload: v10Accept, TxInfo: &gw.DownlinkTxInfo{Frequency: 869525000, Power: 27}},
	}}
	pb, err := proto.Marshal(v4)
	if err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(v4)
	if err != nil {
		t.Fatal(err)
	}
	v3JSON := []byte(`{"phyPayload":"ICPPM1SJquMYPAvguqje5fM=","txInfo":{"gatewayID":"ABbAAf8QojU=","frequency":868100000,"power":14,"modulation":"LORA"},"token":1234}`)
	for name, payload := range map[string][]byte{"v4 protobuf": pb, "v4 JSON": js, "v3 JSON": v3JSON} {
		phys, err := DecodeDownlink(payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range phys {
			if !bytes.Equal(p, v10Accept) {
				t.Fatalf("%s: PHYPayload % x", name, p)
			}
		}
		if want := map[bool]int{true: 1, false: 2}[name == "v3 JSON"]; len(phys) != want {
			t.Fatalf("%s: %d PHYPayloads, want %d", name, len(phys), want)
		}
	}
	for _, bad := range [][]byte{nil, []byte("{"), []byte(`{"items":[]}`), {0xff, 0xff}, []byte(`{"phyPayload":"%%%"}`)} {
		if _, err := DecodeDownlink(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	if got := DownlinkTopics([]string{"gateway/+/event/up", "eu868/gateway/+/event/up", "other/#"}); len(got) != 2 ||
		got[0] != "gateway/+/command/down" || got[1] != "eu868/gateway/+/command/down" {
		t.Fatalf("topics %v", got)
	}
}

// The source subscribes to the command topics and hands each PHYPayload
// to OnDownlink, with the gateway named by the topic.
func TestMQTTSourceDownlinkCommands(t *testing.T) {
	b := testkit.StartBroker(t, testkit.BrokerOptions{})
	type got struct {
		eui lorawan.EUI64
		phy []byte
	}
	ch := make(chan got, 4)
	src := mustOpen(t, Config{Server: "tcp://" + b.Addr, Topics: []string{"eu868/gateway/+/event/up"}, ConnectTimeout: time.Second,
		OnDownlink: func(eui lorawan.EUI64, phy []byte) { ch <- got{eui, phy} }},
		radio.HandlerFunc(func(context.Context, []radio.Frame) error { return nil }), nil, nil)
	t.Cleanup(run(t, src))
	b.WaitSubscriptions(t, 2) // uplinks, then commands
	pb, _ := proto.Marshal(&gw.DownlinkFrame{GatewayId: "0016c001ff10a235", Items: []*gw.DownlinkFrameItem{{PhyPayload: v10Accept}}})
	b.Publish("eu868/gateway/0016c001ff10a235/command/down", []byte("garbage"))
	b.Publish("eu868/gateway/0016c001ff10a235/command/down", pb)
	select {
	case g := <-ch:
		if g.eui.String() != "0016c001ff10a235" || !bytes.Equal(g.phy, v10Accept) {
			t.Fatalf("got %s % x", g.eui, g.phy)
		}
	case <-time.After(testkit.Patience):
		t.Fatal("OnDownlink not called")
	}
}

// FuzzDecodeBridgeDownlink: no panic, and what is returned is a list of
// plausible PHYPayloads.
func FuzzDecodeBridgeDownlink(f *testing.F) {
	pb, _ := proto.Marshal(&gw.DownlinkFrame{GatewayId: "0016c001ff10a235", Items: []*gw.DownlinkFrameItem{{PhyPayload: v10Accept}}})
	f.Add(pb)
	f.Add([]byte(`{"phyPayload":"ICPPM1SJquMYPAvguqje5fM=","txInfo":{"gatewayID":"ABbAAf8QojU="}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		phys, err := DecodeDownlink(payload)
		if err != nil {
			return
		}
		if len(phys) == 0 {
			t.Fatal("no error and no PHYPayload")
		}
		for _, p := range phys {
			if len(p) == 0 || len(p) > 255 {
				t.Fatalf("PHYPayload of %d bytes", len(p))
			}
		}
	})
}
