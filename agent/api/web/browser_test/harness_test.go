package browser

// The parts of the browser test that are not the browser: the agent as a
// subprocess, a packet forwarder that sends real LoRaWAN frames, a Cayenne
// stand-in. The frame and datagram
// builders follow cmd/edgeflow/e2e_helpers_test.go, which is another
// package's test code and cannot be imported.

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"edgeflow/internal/testkit"
)

// buildAgent builds cmd/edgeflow into dir, as a gateway would run it.
func buildAgent(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "edgeflow")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/edgeflow")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building edgeflow: %v\n%s", err, b)
	}
	return bin
}

// agent is a running edgeflow.
type agent struct {
	udp, api string
	mu       sync.Mutex
	log      strings.Builder
}

var (
	udpRe = regexp.MustCompile(`msg="edgeflow started".* udp=(\S+)`)
	apiRe = regexp.MustCompile(`msg="edgeflow started".* api=(\S+)`)
)

func startAgent(t *testing.T, bin, cfg string) *agent {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(cfg, "$DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agent{}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			a.mu.Lock()
			a.log.WriteString(line + "\n")
			a.mu.Unlock()
			if m := udpRe.FindStringSubmatch(line); m != nil {
				api := ""
				if m := apiRe.FindStringSubmatch(line); m != nil {
					api = m[1]
				}
				started <- [2]string{m[1], api}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			a.mu.Lock()
			t.Logf("agent log:\n%s", a.log.String())
			a.mu.Unlock()
		}
	})
	select {
	case s := <-started:
		a.udp, a.api = s[0], s[1]
	case <-time.After(20 * time.Second):
		a.mu.Lock()
		defer a.mu.Unlock()
		t.Fatalf("the agent did not start:\n%s", a.log.String())
	}
	if a.api == "" || a.api == "off" {
		t.Fatal("the agent did not say where its API listens")
	}
	return a
}

// front checks that the agent serves the page itself at "/" (web.Handler
// mounted on the local API, without the token: a browser cannot send one
// when it opens an address) and returns the address the browser opens.
func front(t *testing.T, apiAddr string) string {
	t.Helper()
	base := "http://" + apiAddr
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "app.js?v=") {
		t.Fatalf("GET %s/ = %d, not the page: the agent must serve web.Handler at \"/\" without the token\n%.300s", base, res.StatusCode, b)
	}
	return base
}

// endpoint is the Cayenne stand-in: it records each DevEUI_uplink by the
// path it was posted to, so that connections can share it.
type endpoint struct {
	*httptest.Server
	mu   sync.Mutex
	docs map[string][]map[string]any
	// refuse, when set, answers 400 to the uplinks it returns true for;
	// those are not recorded.
	refuse func(doc map[string]any) bool
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{docs: map[string][]map[string]any{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc struct {
			U map[string]any `json:"DevEUI_uplink"`
		}
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil || doc.U == nil {
			t.Errorf("the endpoint got something else than a DevEUI_uplink: %v", err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.refuse != nil && e.refuse(doc.U) {
			http.Error(w, "refused by the test", http.StatusBadRequest)
			return
		}
		e.docs[r.URL.Path] = append(e.docs[r.URL.Path], doc.U)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(e.Close)
	return e
}

// waitFor waits until n uplinks were accepted at path and returns them.
func (e *endpoint) waitFor(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.received(path)) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := e.received(path)
	if len(got) != n {
		t.Fatalf("the endpoint accepted %d uplinks at %s, want %d", len(got), path, n)
	}
	return got
}

func (e *endpoint) received(path string) []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]any(nil), e.docs[path]...)
}

// device is an ABP device that builds real frames (testkit.Device), with
// the name the page shows.
type device struct {
	testkit.Device
	name string
}

func newDevice(n byte, name string) device { return device{testkit.NewDevice(n), name} }

func (d device) yaml() string { return d.YAML() + "    name: \"" + d.name + "\"\n" }

func (d device) frame(t *testing.T, fcnt uint32, fport uint8, payload []byte) []byte {
	t.Helper()
	return d.Up(t, fcnt, fport, payload)
}

// push sends one PUSH_DATA (GWMP v2) with the frames and waits for its PUSH_ACK.
func push(t *testing.T, udpAddr string, token uint16, rssi, snr float64, frames ...[]byte) {
	t.Helper()
	var pkts []testkit.Rxpk
	for _, f := range frames {
		pkts = append(pkts, testkit.NewRxpk(f, rssi, snr, ""))
	}
	dgram := testkit.PushData(t, 2, token, pkts...)
	c, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(dgram); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	ack := make([]byte, 16)
	n, err := c.Read(ack)
	if err != nil || n != 4 || ack[3] != 0x01 {
		t.Fatalf("no PUSH_ACK: % x %v", ack[:n], err)
	}
}

// networkServer is a relay upstream that acknowledges what the agent
// relays, as a network server does, so the agent reports it up.
func networkServer(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			acks := map[byte]byte{0x00: 0x01, 0x02: 0x04} // PUSH_DATA → PUSH_ACK, PULL_DATA → PULL_ACK
			if ack, ok := acks[buf[3]]; n >= 4 && ok {
				_, _ = c.WriteTo([]byte{buf[0], buf[1], buf[2], ack}, from)
			}
		}
	}()
	return c.LocalAddr().String()
}

// apiGet reads the API as the command line does.
func apiGet(t *testing.T, apiAddr, path, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+apiAddr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// lanAddr is a non-loopback IPv4 address of this machine, "" when none.
func lanAddr() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
