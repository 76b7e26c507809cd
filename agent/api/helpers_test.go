package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

// forwarder is testkit's packet forwarder, sending one device's uplinks.
type forwarder struct {
	t testing.TB
	*testkit.Forwarder
}

func newForwarder(t testing.TB, addr string) *forwarder {
	return &forwarder{t, testkit.NewForwarder(t, addr)}
}

// push sends one uplink of d in a PUSH_DATA and waits for the PUSH_ACK.
func (f *forwarder) push(d device, fcnt uint32, payload []byte) {
	f.t.Helper()
	f.Push(2, testkit.NewRxpk(d.frame(f.t, fcnt, 1, payload), -57, 7.5, ""))
}

// endpoint is testkit's cloud endpoint, seen by FCnt.
type endpoint struct{ *testkit.Sink }

func newEndpoint(t testing.TB) *endpoint { return &endpoint{testkit.NewSink(t)} }

// setCode makes the endpoint answer c from now on (0: 202 Accepted).
func (e *endpoint) setCode(c int) {
	if c == 0 {
		e.SetAnswer(nil)
		return
	}
	e.SetAnswer(func(*testkit.Request) int { return c })
}

// got is the FCnt of each uplink accepted, in order.
func (e *endpoint) got() []float64 {
	var out []float64
	for _, u := range e.Uplinks() {
		f, _ := u["FCntUp"].(float64)
		out = append(out, f)
	}
	return out
}

// last is the headers and URL of the last uplink accepted.
func (e *endpoint) last() (http.Header, string) {
	acc := e.Accepted()
	if len(acc) == 0 {
		return nil, ""
	}
	r := acc[len(acc)-1]
	return r.Header, r.URL.String()
}

// waitFCnts waits until the endpoint received exactly want (in order).
func (e *endpoint) waitFCnts(t testing.TB, want ...float64) {
	t.Helper()
	e.Wait(t, fmt.Sprintf("FCnts %v (got %v)", want, e.got()), func([]*testkit.Request) bool { return fmt.Sprint(e.got()) == fmt.Sprint(want) })
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
	testkit.WaitUntil(r.t, "connection "+id+" to settle", func() bool {
		_, body := r.must("GET", "/connections/"+id, "", http.StatusOK)
		c := decode[api.Connection](r.t, body)
		return c.Delivered >= n && c.Backlog == 0
	})
}
