package main_test

import (
	"strings"
	"testing"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// A Cayenne LPP device's temperature reads as a temperature in `edgeflow
// status`, while the endpoint still gets the payload itself.
func TestStatusShowsLPPReadings(t *testing.T) {
	d := newDevice(1)
	ep := testkit.NewSink(t)
	ag := testkit.StartAgent(t, configText(ep.URL, "on-outage", d))
	fw := newForwarder(t, ag.UDP)
	payload := []byte{0x03, 0x67, 0x00, 0xED, 0x05, 0x68, 0x53} // 23.7 °C, 41.5 %
	fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 7, port(2), payload), -71, 8.5, ""))
	docs := ep.WaitUplinks(t, 1)
	if docs[0]["payload_hex"] != "036700ed056853" {
		t.Fatalf("the endpoint got %v, want the payload unchanged", docs[0]["payload_hex"])
	}
	out, errs, code := testkit.RunCLI(t, "status", "--api", ag.API)
	if code != 0 || !strings.Contains(out, "temperature 23.7 °C, humidity 41.5 %") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
}
