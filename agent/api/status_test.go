package api_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"edgeflow/agent/api"
)

// TestStatusDevicesMetrics: after one uplink, /status names the gateway, the
// device and the connection that delivered it; /devices never shows keys;
// /metrics counts the uplink.
func TestStatusDevicesMetrics(t *testing.T) {
	dev := newDevice(5)
	ep := newEndpoint(t)
	r := startAgent(t, filepath.Join(t.TempDir(), "edgeflow.yaml"), technicianFile(ep.URL, dev))
	r.fw.push(dev, 3, []byte{3})
	ep.waitFCnts(t, 3)
	r.waitIdle("first", 1)

	_, body := r.must("GET", "/status", "", http.StatusOK)
	st := decode[api.Status](t, body)
	if st.Version != "test" || st.Config == "" || st.Buffer.Path == "" || st.Buffer.Size == 0 || st.Buffer.Persist != "on-outage" {
		t.Errorf("status header: %s", body)
	}
	if len(st.Gateways) != 1 || st.Gateways[0].EUI != "AA555A0000000101" || st.Gateways[0].LastPushData == nil || st.Gateways[0].PushData != 1 {
		t.Errorf("gateways: %+v", st.Gateways)
	}
	if len(st.Sources) == 0 || st.Sources[0].Type != "udp" {
		t.Errorf("sources: %+v", st.Sources)
	}
	if c := st.Connections; len(c) != 1 || c[0].State != "OPENED" || c[0].LastDelivery == nil || c[0].Delivered != 1 || c[0].StartupTime == nil {
		t.Errorf("connections: %+v", c)
	}
	if d := st.Devices; len(d) != 1 || d[0].FCnt == nil || *d[0].FCnt != 3 || d[0].RSSI == nil || *d[0].RSSI != -57 || d[0].LastUplink == nil || !d[0].SessionKnown {
		t.Errorf("devices: %s", body)
	}

	_, body = r.must("GET", "/devices", "", http.StatusOK)
	devs := decode[[]api.DeviceState](t, body)
	if len(devs) != 1 || devs[0].DevEUI != "70B3D57ED0000005" || devs[0].Activation != "ABP" {
		t.Errorf("devices: %s", body)
	}
	if strings.Contains(strings.ToLower(body), strings.ToLower(dev.AppSKey.String())) || strings.Contains(strings.ToLower(body), "skey") {
		t.Errorf("/devices shows a key: %s", body)
	}

	resp, body := r.must("GET", "/metrics", "", http.StatusOK)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "edgeflow_uplink_forwarded_total") {
		t.Errorf("metrics (%s):\n%s", resp.Header.Get("Content-Type"), body)
	}
	_, body = r.must("GET", "/healthz", "", http.StatusOK)
	if body != "ok\n" {
		t.Errorf("healthz: %q", body)
	}
}
