package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
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
	"syscall"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// agentBin is the edgeflow binary under test, built once by TestMain.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgeflow-e2e")
	if err != nil {
		panic(err)
	}
	agentBin = filepath.Join(dir, "edgeflow")
	build := exec.Command("go", "build", "-o", agentBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building edgeflow: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// device is an ABP test device (see testkit.Device).
type device struct {
	devEUI  lorawan.EUI64
	devAddr lorawan.DevAddr
	nwkSKey lorawan.AES128Key
	appSKey lorawan.AES128Key
}

func newDevice(n byte) device {
	k := testkit.NewDevice(n)
	return device{k.DevEUI, k.DevAddr, k.NwkSKey, k.AppSKey}
}

func (d device) kit() testkit.Device {
	return testkit.Device{DevEUI: d.devEUI, DevAddr: d.devAddr, NwkSKey: d.nwkSKey, AppSKey: d.appSKey}
}

func (d device) yaml() string { return d.kit().YAML() }

// frame builds a data uplink with the full counter fcnt (16 bits on air).
func (d device) frame(t testing.TB, mtype lorawan.MType, fcnt uint32, fport *uint8, payload []byte) []byte {
	t.Helper()
	return d.kit().Frame(t, mtype, fcnt, fport, payload)
}

func port(n uint8) *uint8 { return testkit.Port(n) }

type rxpk = testkit.Rxpk

func newRxpk(phy []byte, rssi, snr float64, gpsTime string) rxpk {
	return testkit.NewRxpk(phy, rssi, snr, gpsTime)
}

var gatewayEUI = testkit.GatewayEUI

// pushData builds a GWMP PUSH_DATA datagram.
func pushData(t testing.TB, version byte, token uint16, pkts ...rxpk) []byte {
	t.Helper()
	return testkit.PushData(t, version, token, pkts...)
}

// forwarder is a fake packet forwarder: one socket for PUSH_DATA, another
// for PULL_DATA, as the reference forwarder does.
type forwarder struct {
	t          testing.TB
	up, down   *net.UDPConn
	agent      *net.UDPAddr
	tokenCount uint16
}

func newForwarder(t testing.TB, agent string) *forwarder {
	addr, err := net.ResolveUDPAddr("udp", agent)
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	down, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close(); down.Close() })
	return &forwarder{t: t, up: up, down: down, agent: addr}
}

// push sends a PUSH_DATA and waits for its PUSH_ACK.
func (f *forwarder) push(version byte, pkts ...rxpk) {
	f.t.Helper()
	f.tokenCount++
	tok := f.tokenCount
	if _, err := f.up.Write(pushData(f.t, version, tok, pkts...)); err != nil {
		f.t.Fatal(err)
	}
	want := []byte{version, byte(tok >> 8), byte(tok), 0x01}
	f.expect(f.up, want, "PUSH_ACK")
}

func (f *forwarder) pull(version byte) {
	f.t.Helper()
	f.tokenCount++
	tok := f.tokenCount
	b := []byte{version, byte(tok >> 8), byte(tok), 0x02}
	b = append(b, gatewayEUI[:]...)
	if _, err := f.down.Write(b); err != nil {
		f.t.Fatal(err)
	}
	f.expect(f.down, []byte{version, byte(tok >> 8), byte(tok), 0x04}, "PULL_ACK")
}

func (f *forwarder) expect(c *net.UDPConn, want []byte, what string) {
	f.t.Helper()
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := c.Read(buf)
		if err != nil {
			f.t.Fatalf("no %s: %v", what, err)
		}
		// Like the reference forwarder, ignore acks of other tokens
		// (out-of-sync acks); anything else is wrong.
		if n == 4 && buf[3] == want[3] && buf[0] == want[0] && (buf[1] != want[1] || buf[2] != want[2]) {
			continue
		}
		if string(buf[:n]) != string(want) {
			f.t.Fatalf("%s = % x, want % x", what, buf[:n], want)
		}
		return
	}
}

// endpoint is a Cayenne stand-in recording every DevEUI_uplink it gets.
type endpoint struct {
	*httptest.Server
	mu      sync.Mutex
	docs    []map[string]any
	raw     []string
	status  func(n int) int // answer for the n-th request (from 0); nil → 202, < 0 → connection reset
	headers []http.Header
	arrived chan struct{}
}

func newEndpoint(t testing.TB) *endpoint {
	e := &endpoint{arrived: make(chan struct{}, 1)}
	var n int
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		code := http.StatusAccepted
		if e.status != nil {
			code = e.status(n)
		}
		n++
		if code < 0 {
			// Reset the connection: what a crashing proxy or a NAT timeout does.
			e.mu.Unlock()
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				c.Close()
			}
			return
		}
		if code/100 == 2 {
			var doc struct {
				U map[string]any `json:"DevEUI_uplink"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || doc.U == nil {
				t.Errorf("endpoint got a body that is not a DevEUI_uplink document: %v: %s", err, body)
			}
			e.docs = append(e.docs, doc.U)
			e.raw = append(e.raw, string(body))
			e.headers = append(e.headers, r.Header.Clone())
		}
		e.mu.Unlock()
		select {
		case e.arrived <- struct{}{}:
		default:
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) received() []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]any(nil), e.docs...)
}

// waitFor waits until n uplinks arrived, then a little longer to catch extras.
func (e *endpoint) waitFor(t testing.TB, n int, within time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(e.received()) < n && time.Now().Before(deadline) {
		select {
		case <-e.arrived:
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(300 * time.Millisecond)
	got := e.received()
	if len(got) != n {
		t.Fatalf("endpoint received %d uplinks, want %d", len(got), n)
	}
	return got
}

// agentProc is an edgeflow subprocess.
type agentProc struct {
	cmd     *exec.Cmd
	udpAddr string
	apiAddr string
	mu      sync.Mutex
	log     strings.Builder
	exited  chan struct{}
}

var (
	startedRe = regexp.MustCompile(`msg="edgeflow started".* udp=(\S+)`)
	apiRe     = regexp.MustCompile(`msg="edgeflow started".* api=(\S+)`)
)

// startAgent runs edgeflow with the configuration text and waits until it
// says it listens.
func startAgent(t testing.TB, cfgText string, extraArgs ...string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	cfgText = strings.ReplaceAll(cfgText, "$DIR", dir)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	return startAgentFile(t, cfgPath, extraArgs...)
}

func startAgentFile(t testing.TB, cfgPath string, extraArgs ...string) *agentProc {
	t.Helper()
	p := &agentProc{exited: make(chan struct{})}
	args := append([]string{"run", "--config", cfgPath}, extraArgs...)
	p.cmd = exec.Command(agentBin, args...)
	p.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := startedRe.FindStringSubmatch(line); m != nil {
				var api string
				if a := apiRe.FindStringSubmatch(line); a != nil {
					api = a[1]
				}
				select {
				case addr <- [2]string{m[1], api}:
				default:
				}
			}
		}
	}()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("agent log:\n%s", p.logText())
		}
	})
	select {
	case a := <-addr:
		p.udpAddr, p.apiAddr = a[0], a[1]
	case <-p.exited:
		t.Fatalf("agent exited before listening:\n%s", p.logText())
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not start:\n%s", p.logText())
	}
	return p
}

func (p *agentProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *agentProc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop on SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("agent exited with %d after SIGTERM:\n%s", code, p.logText())
	}
}

// kill sends SIGKILL.
func (p *agentProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
