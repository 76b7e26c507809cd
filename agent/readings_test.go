package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/internal/testkit"
	"edgeflow/radio"
)

// clock is the agent's injected clock, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func configDevice(n byte, name, format string) config.Device {
	d := testkit.NewDevice(n)
	return config.Device{DevEUI: d.DevEUI, DevAddr: d.DevAddr, NwkSKey: d.NwkSKey, AppSKey: d.AppSKey, ABP: true, Name: name, PayloadFormat: format}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// An hour of uplinks through a running agent (its clock injected): GET
// /devices gives the last payload of each device and, for an LPP one, its
// readings; GET /history gives the charts' series.
func TestReadingsAndHistory(t *testing.T) {
	cayenne := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer cayenne.Close()
	clk := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	cfg := config.DefaultIn(config.Dirs{})
	cfg.Buffer.Path = filepath.Join(t.TempDir(), "buffer.db")
	cfg.PacketForwarder.UDP.Bind = "127.0.0.1:0"
	cfg.API.Bind = "127.0.0.1:0"
	cfg.Connections[0].Configuration.DestinationURL = cayenne.URL
	cfg.Devices = []config.Device{
		configDevice(1, "cellar", ""),               // auto, and a Cayenne connection: LPP
		configDevice(2, "meter", config.PayloadHex), // the same bytes, never decoded
		configDevice(3, "tracker", config.PayloadCayenneLPP),
	}
	cfg.Complete()
	a, err := New(cfg, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)

	gw := testkit.GatewayEUI
	frame := func(n byte, fcnt uint32, payload []byte, rssi float64) radio.Frame {
		d := testkit.NewDevice(n)
		return radio.Frame{PHYPayload: d.Up(t, fcnt, 1, payload), GatewayEUI: gw, Time: clk.now(), Frequency: 868.1, Modulation: "LORA",
			DataRate: "SF7BW125", SF: 7, Bandwidth: 125, CodeRate: "4/5", RSSI: rssi, SNR: 7.5, CRCStatus: 1}
	}
	start := clk.now()
	lppTemp := []byte{0x03, 0x67, 0x00, 0xED} // ch 3, 23.7 °C
	for m := range 60 {
		clk.set(start.Add(time.Duration(m) * time.Minute))
		fs := []radio.Frame{frame(1, uint32(m), lppTemp, -70-float64(m%10))}
		if m%2 == 0 {
			fs = append(fs, frame(2, uint32(m), lppTemp, -100))
		}
		if err := a.handleFrames(ctx, fs); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.handleFrames(ctx, []radio.Frame{frame(3, 1, []byte{0x01, 0x02, 0x03}, -90)}); err != nil {
		t.Fatal(err)
	}

	base := "http://" + a.api.Addr().String()
	var devs []api.DeviceState
	getJSON(t, base+"/devices", &devs)
	if len(devs) != 3 {
		t.Fatalf("%d devices", len(devs))
	}
	cellar, meter, tracker := devs[0], devs[1], devs[2]
	if len(cellar.Readings) != 1 || cellar.Readings[0] != (api.Reading{Channel: 3, Type: "temperature", Name: "temperature", Value: 23.7, Unit: "°C", Text: "temperature 23.7 °C"}) ||
		cellar.PayloadHex != "036700ed" || cellar.FPort == nil || *cellar.FPort != 1 {
		t.Errorf("cellar: %+v", cellar)
	}
	if meter.Readings != nil || meter.PayloadHex != "036700ed" || meter.PayloadNote != "" {
		t.Errorf("meter (payloadFormat hex): %+v", meter)
	}
	if tracker.Readings != nil || tracker.PayloadHex != "010203" || tracker.PayloadNote != "not Cayenne LPP at byte 0: analog input needs 2 bytes, 1 left" {
		t.Errorf("tracker (cayenne-lpp, not LPP): %+v", tracker)
	}

	var h api.History
	getJSON(t, base+"/history?minutes=60", &h)
	if h.Step != 60 || len(h.Devices) != 3 || len(h.Gateways) != 1 || len(h.Connections) != 1 {
		t.Fatalf("history: step %d, %d devices, %d gateways, %d connections", h.Step, len(h.Devices), len(h.Gateways), len(h.Connections))
	}
	d := h.Devices[0]
	if d.Name != "cellar" || len(d.Uplinks) != 60 || len(d.Signal) != 60 || d.Signal[59][1] != -79 || d.Signal[59][2] != 7.5 {
		t.Fatalf("cellar's series: %+v", d)
	}
	total := int64(0)
	for _, v := range h.Gateways[0].Uplinks {
		total += v
	}
	if total != 60+30+1 || h.Devices[0].Uplinks[0] != 1 || h.Devices[1].Uplinks[1] != 0 {
		t.Fatalf("gateway saw %d uplinks; cellar %v", total, h.Devices[0].Uplinks[:3])
	}
	// Uplinks sample the backlog when the last sample is 15 s old on the
	// agent's clock: here every minute has one.
	for i, v := range h.Connections[0].Backlog {
		if v == nil || h.Connections[0].Name != config.DefaultConnectionName {
			t.Fatalf("backlog series %+v: no sample at minute %d", h.Connections[0], i)
		}
	}
	res, err := http.Get(base + "/history?minutes=x")
	if err != nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("minutes=x: %v %v", res.Status, err)
	}
	res.Body.Close()
}
