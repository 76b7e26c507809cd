package api_test

import (
	"bufio"
	"context"
	"edgeflow/internal/testkit"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgeflow/agent/api"
	"edgeflow/config"
)

// sse reads server-sent events from a response.
type sse struct {
	sc *bufio.Scanner
}

func (s *sse) next(t *testing.T) (name string, data string) {
	t.Helper()
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("the event stream ended: %v", s.sc.Err())
	return "", ""
}

// TestEventsStreamUplinksAndDeliveries follows GET /events while a real
// uplink arrives and is delivered.
func TestEventsStreamUplinksAndDeliveries(t *testing.T) {
	dev := newDevice(3)
	ep := newEndpoint(t)
	r := startAgent(t, filepath.Join(t.TempDir(), "edgeflow.yaml"), technicianFile(ep.URL, dev))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.api+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /events: %d %s", resp.StatusCode, ct)
	}
	r.fw.push(dev, 42, []byte{0x01, 0x67, 0x01, 0x0e})
	s := &sse{sc: bufio.NewScanner(resp.Body)}
	got := map[string]string{}
	for len(got) < 2 {
		name, data := s.next(t)
		got[name] = data
	}
	var up api.UplinkEvent
	if err := json.Unmarshal([]byte(got["uplink"]), &up); err != nil {
		t.Fatal(err)
	}
	if up.DevEUI != "70B3D57ED0000003" || up.DevAddr != "260B0003" || up.FCnt != 42 || up.FPort != 1 || up.PayloadHex != "0167010e" ||
		up.RSSI != -57 || up.SNR != 7.5 || up.Gateway != "AA555A0000000101" || up.Time.IsZero() {
		t.Errorf("uplink event %s", got["uplink"])
	}
	var dl api.DeliveryEvent
	if err := json.Unmarshal([]byte(got["delivery"]), &dl); err != nil {
		t.Fatal(err)
	}
	if dl != (api.DeliveryEvent{DevEUI: "70B3D57ED0000003", FCnt: 42, Connection: "First", ConnectionID: "first", OK: true}) {
		t.Errorf("delivery event %s", got["delivery"])
	}
	// The stream ends when the agent stops, rather than holding its stop.
	done := make(chan struct{})
	go func() {
		for s.sc.Scan() {
		}
		close(done)
	}()
	r.stop()
	select {
	case <-done:
	case <-time.After(testkit.Patience):
		t.Fatal("the event stream outlived the agent")
	}
}

// TestHubNeverBlocks: a subscriber that does not read loses events; the
// publisher goes on.
func TestHubNeverBlocks(t *testing.T) {
	h := api.NewHub(1)
	srv := startConfigAPI(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	testkit.WaitUntil(t, "the stream to subscribe", h.Active)
	// Nobody reads the stream: the publisher must still return at once.
	// 100 MB of events: more than loopback's socket buffers can hold, so
	// the stream's writer is stuck whatever the scheduling and events drop
	// (2 MB fitted in the buffers on a loaded machine: nothing dropped).
	start := time.Now()
	payload := strings.Repeat("ab", 1000)
	for i := range 50000 {
		h.Publish("uplink", api.UplinkEvent{FCnt: uint32(i), PayloadHex: payload})
	}
	if h.Dropped() == 0 {
		t.Fatalf("50000 events to a reader that reads nothing, none dropped (%s)", time.Since(start))
	}
	// A second stream is refused: the hub allows one.
	resp2, err := http.Get(srv + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second stream: %d, want 503", resp2.StatusCode)
	}
}

// startConfigAPI starts only the API, on a backend with nothing in it.
func startConfigAPI(t *testing.T, h *api.Hub) string {
	t.Helper()
	srv, err := api.Start(emptyBackend{}, api.Options{Bind: "127.0.0.1:0", Events: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return "http://" + srv.Addr().String()
}

// TestTokenBeyondLoopback: the API refuses to start on the network without
// a token, and there asks the token for reads too (the page and /healthz
// excepted).
func TestTokenBeyondLoopback(t *testing.T) {
	if _, err := api.Start(emptyBackend{}, api.Options{Bind: "0.0.0.0:0"}); !errors.Is(err, api.ErrNoToken) {
		t.Fatalf("public bind without a token: %v, want ErrNoToken", err)
	}
	srv, err := api.Start(emptyBackend{}, api.Options{Bind: "0.0.0.0:0", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	_, port, _ := strings.Cut(srv.Addr().String(), "]:")
	if port == "" {
		_, port, _ = strings.Cut(srv.Addr().String(), ":")
	}
	base := "http://127.0.0.1:" + port
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/connections", "", http.StatusUnauthorized},
		{"/status", "wrong", http.StatusUnauthorized},
		{"/connections", testToken, http.StatusOK},
		{"/metrics", testToken, http.StatusOK},
		{"/healthz", "", http.StatusOK},
		{"/", "", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s with token %q: %d, want %d", c.path, c.token, resp.StatusCode, c.want)
		}
	}
}

type emptyBackend struct{}

func (emptyBackend) Config() *config.Config { return &config.Config{} }
func (emptyBackend) UpdateConnections(context.Context, func([]config.Connection) ([]config.Connection, error)) (api.Update, error) {
	return api.Update{}, errors.New("read-only")
}
func (emptyBackend) ConnectionStates() map[string]api.ConnectionState { return nil }
func (emptyBackend) Status() api.Status                               { return api.Status{} }
func (emptyBackend) Devices() []api.DeviceState                       { return nil }
func (emptyBackend) DeadLetters(string) ([]api.DeadLetter, error)     { return nil, nil }
func (emptyBackend) ReplayDeadLetters(string, []uint64) (int, error)  { return 0, nil }
func (emptyBackend) WriteMetrics(io.Writer)                           {}
