package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	edgeflow "edgeflow/agent"
	"edgeflow/config"
	"edgeflow/internal/testkit"
)

// fakeClock is the agent's clock: it runs like the real one, from where
// the test set it last, so that the test can jump through an hour while
// delivery's waits still pass; freeze stops it, so that a slow browser
// start cannot move the charts' window.
type fakeClock struct {
	mu     sync.Mutex
	off    time.Duration
	frozen time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen
	}
	return time.Now().Add(c.off)
}
func (c *fakeClock) set(t time.Time)    { c.mu.Lock(); c.off = time.Until(t); c.mu.Unlock() }
func (c *fakeClock) freeze(t time.Time) { c.mu.Lock(); c.frozen = t; c.mu.Unlock() }

// pushFrom sends a PUSH_DATA as gateway eui and waits for its PUSH_ACK.
func pushFrom(t *testing.T, udpAddr string, eui [8]byte, rssi, snr float64, frames ...[]byte) {
	t.Helper()
	var pkts []testkit.Rxpk
	for _, f := range frames {
		pkts = append(pkts, testkit.NewRxpk(f, rssi, snr, ""))
	}
	fw := testkit.NewForwarder(t, udpAddr)
	fw.EUI = eui
	fw.Push(2, pkts...)
}

// drained waits, in real time, until the connection's backlog is empty.
func drained(t *testing.T, api string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Connections []struct{ Backlog int } `json:"connections"`
		}
		apiGet(t, api, "/status", "", &st)
		if st.Connections[0].Backlog == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backlog did not drain: %d", st.Connections[0].Backlog)
		}
		time.Sleep(20 * time.Millisecond) // delivery runs on real time
	}
}

// TestCharts runs an agent in this process on an injected clock, walks it
// through an hour of traffic from four devices and two gateways (Cayenne
// failing for a quarter of an hour in the middle), then reads the Charts,
// Devices and Live pages on a phone-sized screen.
func TestCharts(t *testing.T) {
	chromium(t)
	var failing atomic.Bool
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer ep.Close()
	cellar, greenhouse, tracker, meter := newDevice(1, "cellar"), newDevice(2, "greenhouse"), newDevice(3, "tracker"), newDevice(4, "meter")
	dir := t.TempDir()
	text := agentConfig("127.0.0.1:0", "", nil, []string{`{"name":"Actility To Cayenne","connectorId":"actility-http-iot","brand":"CAYENNE","configuration":{"destinationURL":"` + ep.URL + `"}}`},
		cellar, greenhouse, tracker, meter)
	text = strings.ReplaceAll(text, "$DIR", dir)
	text = strings.Replace(text, "  retryMax: 2s\n", "  retryMin: 100ms\n  retryMax: 500ms\n", 1)
	text += "    payloadFormat: hex\n" // the meter's own format, never read as LPP
	path := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{}
	clk.set(time.Now().Truncate(time.Minute).Add(-time.Hour))
	a, err := edgeflow.New(cfg, edgeflow.Options{Now: clk.now, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	udp, api := a.UDPAddr(), a.APIAddr()

	gwA, gwB := [8]byte{0xAA, 0x55, 0x5A, 0, 0, 0, 0x01, 0x01}, [8]byte{0xAA, 0x55, 0x5A, 0, 0, 0, 0x01, 0x02}
	send := func(gw [8]byte, rssi, snr float64, frames ...[]byte) {
		pushFrom(t, udp, gw, rssi, snr, frames...)
	}
	fc := map[string]uint32{}
	up := func(d device, payload []byte) []byte { fc[d.name]++; return d.frame(t, fc[d.name], 2, payload) }
	start := clk.now()
	for m := range 60 {
		clk.set(start.Add(time.Duration(m)*time.Minute + 7*time.Second))
		switch m {
		case 20:
			failing.Store(true)
		case 36:
			failing.Store(false)
		}
		temp := int16(180 + m%12) // 18.0 … 19.1 °C
		send(gwA, -72-float64(m%7), 8.5-float64(m%5)/2, up(cellar, []byte{0x01, 0x67, byte(temp >> 8), byte(temp), 0x02, 0x68, 0x53}))
		if m%2 == 0 {
			send(gwB, -104+float64(m%9), -3+float64(m%6), up(greenhouse, []byte{0x03, 0x67, 0x00, 0xED, 0x04, 0x65, 0x02, 0x58}))
		}
		if m%3 == 0 {
			send(gwA, -95-float64(m%11), 2.5, up(tracker, []byte{0x01, 0x88, 0x06, 0x76, 0x5F, 0xF2, 0x96, 0x0A, 0x00, 0x03, 0xE8}),
				up(meter, []byte{0x0c, 0x00, 0xe2, 0x02, 0x29}))
		}
		if !failing.Load() {
			// Delivery runs on real time: let it catch up before the next
			// minute, so that the backlog is what an hour would leave.
			drained(t, api)
		}
	}
	clk.freeze(start.Add(59*time.Minute + 30*time.Second)) // the hour just ended

	b := newBrowser(t, "http://"+api)
	b.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	b.do("open the charts", chromedp.Navigate("http://"+api+"/#/charts"))
	b.wait("the charts", `document.querySelectorAll('#charts svg.chart').length === 5 && document.querySelectorAll('#charts svg.chart path.line').length === 3`)
	// Stacked bars: one per device and minute heard, 130 in all.
	if n := evalJS[int](b, `document.querySelectorAll('#charts svg.chart')[1].querySelectorAll('rect.bar').length`); n != 130 {
		t.Errorf("%d bars for the devices' uplinks, want 130", n)
	}
	legend := evalJS[string](b, `[...document.querySelectorAll('#charts .legend')].map(l => l.textContent).join(' | ')`)
	for _, want := range []string{"AA555A0000000101 100 uplinks", "AA555A0000000102 30 uplinks", "cellar 60 uplinks", "greenhouse 30 uplinks", "Actility To Cayenne"} {
		if !strings.Contains(legend, want) {
			t.Errorf("the legends lack %q: %s", want, legend)
		}
	}
	// The backlog rose while Cayenne failed.
	var hist struct {
		Connections []struct{ Backlog []*int } `json:"connections"`
	}
	apiGet(t, api, "/history?minutes=60", "", &hist)
	peak := 0
	for _, v := range hist.Connections[0].Backlog {
		if v != nil {
			peak = max(peak, *v)
		}
	}
	if peak < 10 {
		t.Errorf("the backlog never rose: %v", peak)
	}
	var bl []any
	for _, v := range hist.Connections[0].Backlog {
		if v == nil {
			bl = append(bl, nil)
		} else {
			bl = append(bl, *v)
		}
	}
	t.Logf("backlog per minute: %v", bl)
	// Every chart fits the phone's width: nothing scrolls sideways.
	if w := evalJS[float64](b, `Math.max(...[...document.querySelectorAll('#charts svg.chart')].map(s => s.getBoundingClientRect().right))`); w > 390 {
		t.Errorf("a chart ends at %.0f px on a 390 px screen", w)
	}
	b.screenshot("charts-phone.png", false)

	// The signal chart follows the device chosen.
	b.do("choose the tracker", chromedp.SetValue(`#chart-device`, strings.ToUpper(tracker.DevEUI.String())))
	b.do("tell the page", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chart-device').dispatchEvent(new Event('change'))`))
	b.wait("the tracker's signal", `[...document.querySelectorAll('#charts svg.chart')].some(s => s.getAttribute('aria-label') === 'RSSI of `+strings.ToUpper(tracker.DevEUI.String())+`' && s.querySelectorAll('circle.dot').length === 20)`)

	// Devices: readings for the LPP devices, hex for the meter.
	b.show("#/devices")
	b.wait("the readings", `document.querySelector('#devices tr[data-deveui="`+strings.ToUpper(cellar.DevEUI.String())+`"] .readings')?.textContent === 'temperature 19.1 °C, humidity 41.5 %'`)
	row := func(d device) string {
		return evalJS[string](b, `document.querySelector('#devices tr[data-deveui="`+strings.ToUpper(d.DevEUI.String())+`"] td.payload').textContent`)
	}
	if got := row(greenhouse); !strings.Contains(got, "temperature 23.7 °C, illuminance 600 lx") {
		t.Errorf("greenhouse: %s", got)
	}
	if got := row(tracker); !strings.Contains(got, "latitude 42.3519 °, longitude -87.9094 °, altitude 10.00 m") {
		t.Errorf("tracker: %s", got)
	}
	if got := row(meter); got != "0c00e20229" {
		t.Errorf("meter (payloadFormat hex): %s", got)
	}
	b.screenshot("devices-readings-phone.png", false)

	// Live: an uplink arriving now shows its readings.
	b.show("#/live")
	b.wait("the live stream", `document.querySelector('#live-state').textContent === 'connected'`)
	send(gwA, -70, 9, up(cellar, []byte{0x01, 0x67, 0x00, 0xED}))
	b.wait("the live readings", `document.querySelector('#live tbody tr .readings')?.textContent === 'temperature 23.7 °C'`)
	b.check()
}
