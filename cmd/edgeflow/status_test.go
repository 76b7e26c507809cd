package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgeflow/agent/api"
)

// TestStatusCommand: edgeflow status finds the API and its token in the
// configuration and prints the tables a technician reads.
func TestStatusCommand(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	fcnt, rssi, snr := uint32(1523), -57.0, 7.5
	st := api.Status{Version: "1.4.0", Config: "/etc/edgeflow/edgeflow.yaml", Uptime: "7h41m",
		Buffer:      api.BufferStatus{Path: "/var/lib/edgeflow/buffer.db", Persist: "on-outage", Size: 2 << 20, MaxSize: 64 << 20},
		Gateways:    []api.Gateway{{EUI: "AA555A0000000101", LastPushData: ago(3 * time.Second), PushAddr: "127.0.0.1:41234"}},
		Sources:     []api.Source{{Type: "udp", Addr: "127.0.0.1:1700"}},
		Connections: []api.ConnectionStatus{{ID: "c", Name: "Actility To Cayenne", Active: true, ConnectionState: api.ConnectionState{State: "UNREACHABLE", Backlog: 12, OldestAge: "4m", LastError: "endpoint answered 503", LastErrorTime: ago(10 * time.Second), LastDelivery: ago(5 * time.Minute)}}},
		Devices:     []api.DeviceState{{DevEUI: "70B3D57ED0000001", Activation: "ABP", SessionKnown: true, LastUplink: ago(12 * time.Second), FCnt: &fcnt, RSSI: &rssi, SNR: &snr}, {DevEUI: "70B3D57ED0000002", Activation: "OTAA"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" || r.Header.Get("Authorization") != "Bearer tok-0123456789abcdef" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"the API token is wrong"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "edgeflow.yaml")
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := os.WriteFile(cfg, []byte("api:\n  bind: \""+addr+"\"\n  token: \"tok-0123456789abcdef\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runCLI([]string{"status", "--config", cfg}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"edgeflow 1.4.0, up 7h41m", "Actility To Cayenne", "UNREACHABLE", "12", "5m ago", "endpoint answered 503 (10s ago)",
		"AA555A0000000101", "3s ago", "70B3D57ED0000001", "12s ago", "1523", "-57", "7.5", "not joined yet"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())

	// A --config that does not exist is named, not silently replaced by defaults.
	out.Reset()
	errOut.Reset()
	if code := runCLI([]string{"status", "--api", addr, "--config", filepath.Join(t.TempDir(), "none.yaml")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "none.yaml") {
		t.Errorf("missing config: exit %d: %s", code, errOut.String())
	}
}

// TestConnectionsTestCommand sends a test uplink through a connection and
// reports what the endpoint said.
func TestConnectionsTestCommand(t *testing.T) {
	// The handler's goroutine and the test's meet only through a socket,
	// which the race detector does not count as synchronisation: a mutex.
	var (
		mu   sync.Mutex
		got  http.Header
		body []byte
		code = http.StatusAccepted
	)
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(code)
		io.WriteString(w, `{"message":"unknown device"}`)
	}))
	defer ep.Close()
	cfg := filepath.Join(t.TempDir(), "edgeflow.yaml")
	text := `connections:
  - {"name":"Bench","connectorId":"actility-http-iot","configuration":{"destinationURL":"` + ep.URL + `/up?apikey=SECRET","headers":{"X-Site":"a"}}}
`
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"connections", "test", "bench", "--dev-eui", "70B3D57ED0000001", "--payload", "0167010e", "--fport", "3", "--config", cfg}
	if c := runCLI(args, &out, &errOut); c != 0 {
		t.Fatalf("exit %d: %s%s", c, out.String(), errOut.String())
	}
	mu.Lock()
	if got.Get("X-Edgeflow-Test") != "1" || got.Get("X-Site") != "a" || !strings.Contains(out.String(), "accepted") {
		t.Errorf("headers %v, output:\n%s", got, out.String())
	}
	var doc struct {
		U map[string]any `json:"DevEUI_uplink"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.U["FCntUp"] != 0.0 || doc.U["FPort"] != 3.0 || doc.U["payload_hex"] != "0167010e" || doc.U["DevEUI"] != "70B3D57ED0000001" {
		t.Errorf("document %s (%v)", body, err)
	}
	code = http.StatusBadRequest
	mu.Unlock()
	out.Reset()
	if c := runCLI(args, &out, &errOut); c != 1 || !strings.Contains(out.String(), "400") || !strings.Contains(out.String(), "unknown device") || strings.Contains(out.String(), "SECRET") {
		t.Errorf("exit %d, output:\n%s", c, out.String())
	}
	t.Logf("\n%s", out.String())
}
