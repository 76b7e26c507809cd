package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgeflow/internal/testkit"

	"edgeflow/agent"
	"edgeflow/agent/api"
	"edgeflow/config"
)

// testToken is the api.token of the test configurations.
const testToken = "t0ken-for-tests-0123"

// device is an ABP device that builds real LoRaWAN frames (testkit.Device).
type device struct{ testkit.Device }

func newDevice(n byte) device { return device{testkit.NewDevice(n)} }

func (d device) yaml() string { return d.YAML() }

func (d device) frame(t testing.TB, fcnt uint32, fport uint8, payload []byte) []byte {
	t.Helper()
	return d.Up(t, fcnt, fport, payload)
}

// forwarder is a packet forwarder's PUSH_DATA socket.
type forwarder struct {
	t     testing.TB
	conn  *net.UDPConn
	token uint16
}

func newForwarder(t testing.TB, addr string) *forwarder {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &forwarder{t: t, conn: c}
}

// push sends one uplink of d in a PUSH_DATA and waits for the PUSH_ACK.
func (f *forwarder) push(d device, fcnt uint32, payload []byte) {
	f.t.Helper()
	phy := d.frame(f.t, fcnt, 1, payload)
	f.token++
	b := testkit.PushData(f.t, 2, f.token, testkit.NewRxpk(phy, -57, 7.5, ""))
	if _, err := f.conn.Write(b); err != nil {
		f.t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := f.conn.Read(buf)
	if err != nil || n < 4 || buf[3] != 1 {
		f.t.Fatalf("no PUSH_ACK: %v % x", err, buf[:n])
	}
}

// endpoint is a cloud endpoint that records what reaches it.
type endpoint struct {
	*httptest.Server
	mu      sync.Mutex
	fcnts   []float64
	headers []http.Header
	urls    []string
	code    int // answer; 0 → 202
}

func newEndpoint(t testing.TB) *endpoint {
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var doc struct {
			U map[string]any `json:"DevEUI_uplink"`
		}
		_ = json.Unmarshal(body, &doc)
		e.mu.Lock()
		code := e.code
		if code == 0 {
			code = http.StatusAccepted
		}
		if code/100 == 2 && doc.U != nil {
			f, _ := doc.U["FCntUp"].(float64)
			e.fcnts = append(e.fcnts, f)
			e.headers = append(e.headers, r.Header.Clone())
			e.urls = append(e.urls, r.URL.String())
		}
		e.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) setCode(c int) {
	e.mu.Lock()
	e.code = c
	e.mu.Unlock()
}

func (e *endpoint) got() []float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]float64(nil), e.fcnts...)
}

func (e *endpoint) last() (http.Header, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.headers) == 0 {
		return nil, ""
	}
	return e.headers[len(e.headers)-1], e.urls[len(e.urls)-1]
}

// waitFCnts waits until the endpoint received exactly want (in order).
func (e *endpoint) waitFCnts(t testing.TB, want ...float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if fmt.Sprint(e.got()) == fmt.Sprint(want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s received FCnts %v, want %v", e.URL, e.got(), want)
}

// running is an agent started in-process on a configuration file.
type running struct {
	t    testing.TB
	ag   *agent.Agent
	path string
	api  string
	fw   *forwarder
}

// startAgent writes text (with $DIR replaced) to a new configuration file
// unless path already exists, and starts the agent on it.
func startAgent(t testing.TB, path, text string) *running {
	t.Helper()
	if text != "" {
		text = strings.ReplaceAll(text, "$DIR", filepath.Dir(path))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return startConfig(t, cfg)
}

func startConfig(t testing.TB, cfg *config.Config) *running {
	t.Helper()
	opts := agent.Options{Version: "test"}
	if os.Getenv("EDGEFLOW_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ag, err := agent.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &running{t: t, ag: ag, path: cfg.Path, api: "http://" + ag.APIAddr()}
	r.fw = newForwarder(t, ag.UDPAddr())
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	if r.ag == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.ag.Stop(ctx); err != nil {
		r.t.Errorf("stop: %v", err)
	}
	r.ag = nil
}

// do sends a request to the API; token "" sends none.
func (r *running) do(method, path, token, body string) (*http.Response, string) {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.api+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == "POST" || method == "PUT" {
		req.Header.Set("Content-Type", "application/json") // as the command line and the page send
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// must sends a request with the token and checks the status.
func (r *running) must(method, path, body string, code int) (*http.Response, string) {
	r.t.Helper()
	resp, b := r.do(method, path, testToken, body)
	if resp.StatusCode != code {
		r.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, code, b)
	}
	return resp, b
}

func decode[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}

// waitIdle waits until connection id reports n deliveries and no backlog.
func (r *running) waitIdle(id string, n uint64) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := r.must("GET", "/connections/"+id, "", http.StatusOK)
		c := decode[api.Connection](r.t, body)
		if c.Delivered >= n && c.Backlog == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("connection %s did not settle: %s", id, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
