package main_test

// Delivery against endpoints shaped like the field, through the built
// binary: an endpoint 200 ms away, a server that drops pipelined bytes,
// an HTTP/2-only host, one refused device, an HTTP/1.0 close-delimited
// server, and real nginx / haproxy / squid when they are installed.

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// fieldEndpoint counts what arrives by (DevEUI, FCntUp) and answers with
// answer (nil: 200), after delay.
type fieldEndpoint struct {
	mu     sync.Mutex
	seen   map[string]int
	protos map[string]int
	delay  time.Duration
	answer func(doc map[string]any) int
}

func newFieldEndpoint() *fieldEndpoint {
	return &fieldEndpoint{seen: map[string]int{}, protos: map[string]int{}}
}

func (e *fieldEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var doc struct {
		U map[string]any `json:"DevEUI_uplink"`
	}
	_ = json.Unmarshal(body, &doc)
	if e.delay > 0 {
		time.Sleep(e.delay) // the endpoint's own work, as in the field
	}
	code := http.StatusOK
	if e.answer != nil {
		code = e.answer(doc.U)
	}
	if code/100 == 2 {
		e.mu.Lock()
		e.seen[fmt.Sprintf("%v/%v", doc.U["DevEUI"], doc.U["FCntUp"])]++
		e.protos[r.Proto]++
		e.mu.Unlock()
	}
	w.WriteHeader(code)
}

// counts returns how many distinct uplinks arrived and how many arrived
// more than once.
func (e *fieldEndpoint) counts() (distinct, repeated int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.seen {
		distinct++
		if n > 1 {
			repeated++
		}
	}
	return
}

// waitDistinct waits (bounded) until n distinct uplinks arrived, then
// checks that none arrived twice.
func (e *fieldEndpoint) waitDistinct(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d, rep := e.counts()
		if rep > 0 {
			t.Fatalf("%d uplinks arrived more than once", rep)
		}
		if d >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d uplinks arrived within %v", d, n, within)
		}
		time.Sleep(50 * time.Millisecond) // polling a real endpoint
	}
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show
	if d, rep := e.counts(); d != n || rep > 0 {
		t.Fatalf("%d distinct uplinks (%d repeated), want %d once each", d, rep, n)
	}
}

// sendUplinks pushes n uplinks, spread over devs, rate per second (0: as
// fast as the PUSH_ACKs come), two per datagram.
func sendUplinks(t *testing.T, fw *forwarder, devs []device, n int, rate float64) {
	t.Helper()
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Duration(float64(2*time.Second) / rate))
		defer tick.Stop()
	}
	for i := 0; i < n; i += 2 {
		var pkts []rxpk
		for j := i; j < min(i+2, n); j++ {
			d := devs[j%len(devs)]
			fcnt := uint32(j/len(devs) + 1)
			pkts = append(pkts, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, fcnt, port(1), []byte{byte(j)}), -70, 5, ""))
		}
		fw.Push(2, pkts...)
		if tick != nil {
			<-tick.C
		}
	}
}

func devices(n int) []device {
	var out []device
	for i := range n {
		out = append(out, newDevice(byte(i+1)))
	}
	return out
}

// fieldConfig is the agent's configuration for url with no merge window
// (uplinks leave at once) and extra connection configuration.
func fieldConfig(url, extra string, devs []device) string {
	cfg := configText(url, "on-outage", devs...)
	cfg = strings.Replace(cfg, fmt.Sprintf(`"destinationURL":%q}`, url), fmt.Sprintf(`"destinationURL":%q%s}`, url, extra), 1)
	return strings.Replace(cfg, "connections:", "delivery:\n  mergeWindow: 0s\n  retryMin: 100ms\n  retryMax: 500ms\nconnections:", 1)
}

// An endpoint that takes 200 ms per request keeps up with 50 uplinks/s:
// several requests are in flight (it used to take 5/s). A bounded run
// that checks counts, not timings: 250 uplinks in 5 s must all be there
// well before the 50 s one request at a time would need.
func TestFieldSlowEndpoint(t *testing.T) {
	ep := newFieldEndpoint()
	ep.delay = 200 * time.Millisecond
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	devs := devices(10)
	ag := testkit.StartAgent(t, fieldConfig(srv.URL, "", devs))
	fw := newForwarder(t, ag.UDP)
	sendUplinks(t, fw, devs, 250, 50)
	ep.waitDistinct(t, 250, 20*time.Second)
	ag.Stop(t)
}

// A server that reads one request at a time and throws away whatever else
// it has read (as some servers and proxies do with pipelined requests)
// still gets every uplink promptly, once.
func TestFieldServerDropsPipelinedBytes(t *testing.T) {
	ep := newFieldEndpoint()
	url := lineServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			w := &recorder{h: http.Header{}}
			ep.ServeHTTP(w, r)
			// Whatever came after the request is dropped.
			br.Reset(c)
			fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", w.code, http.StatusText(w.code))
		}
	})
	devs := devices(5)
	ag := testkit.StartAgent(t, fieldConfig(url, "", devs))
	fw := newForwarder(t, ag.UDP)
	sendUplinks(t, fw, devs, 300, 0)
	ep.waitDistinct(t, 300, 20*time.Second)
	ag.Stop(t)
}

// An endpoint that speaks only HTTP/2 over TLS (ALPN h2 alone) gets the
// uplinks, over HTTP/2.
func TestFieldHTTP2OnlyEndpoint(t *testing.T) {
	ep := newFieldEndpoint()
	srv := httptest.NewUnstartedServer(ep)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{NextProtos: []string{"h2"}} // before the start: its connections read it
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	devs := devices(4)
	ag := testkit.StartAgent(t, fieldConfig(srv.URL, fmt.Sprintf(`,"caFile":%q`, caPath), devs))
	fw := newForwarder(t, ag.UDP)
	sendUplinks(t, fw, devs, 40, 0)
	ep.waitDistinct(t, 40, 15*time.Second)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.protos["HTTP/2.0"] != 40 {
		t.Fatalf("protocols %v, want 40 over HTTP/2.0", ep.protos)
	}
}

// One device refused with 403 (a WAF rule, a per-device ACL) does not
// stop the others: their 80 uplinks arrive, the refused device's go to the
// dead letters with the endpoint's answer, and the connection stays
// OPENED.
func TestFieldOneDeviceForbidden(t *testing.T) {
	devs := devices(5)
	refused := strings.ToUpper(devs[0].devEUI.String())
	ep := newFieldEndpoint()
	ep.answer = func(doc map[string]any) int {
		if strings.EqualFold(fmt.Sprint(doc["DevEUI"]), refused) {
			return http.StatusForbidden
		}
		return http.StatusOK
	}
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	ag := testkit.StartAgent(t, fieldConfig(srv.URL, "", devs))
	fw := newForwarder(t, ag.UDP)
	sendUplinks(t, fw, devs, 100, 0)
	ep.waitDistinct(t, 80, 15*time.Second)
	var conn struct {
		State       string `json:"state"`
		DeadLetters int    `json:"deadLetters"`
		LastError   string `json:"lastError"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn = connectionStatus(t, ag)
		if conn.DeadLetters == 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the agent's API
	}
	if conn.DeadLetters != 20 || conn.State != "OPENED" || !strings.Contains(conn.LastError, "403") {
		t.Fatalf("state %s, %d dead letters, last error %q; want OPENED, 20, a 403", conn.State, conn.DeadLetters, conn.LastError)
	}
	ag.Stop(t)
}

// connectionStatus is the first connection of the agent's /status.
func connectionStatus(t *testing.T, ag *testkit.Agent) (c struct {
	State       string `json:"state"`
	DeadLetters int    `json:"deadLetters"`
	LastError   string `json:"lastError"`
}) {
	t.Helper()
	resp, err := http.Get("http://" + ag.API + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Connections []json.RawMessage `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Connections) == 0 {
		t.Fatalf("status: %v", err)
	}
	if err := json.Unmarshal(st.Connections[0], &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// An HTTP/1.0 server whose body ends at the close, reading one request per
// connection and resetting it while the body is read: every uplink is
// delivered once, and a restart sends none again.
func TestFieldHTTP10CloseDelimited(t *testing.T) {
	ep := newFieldEndpoint()
	url := lineServer(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		w := &recorder{h: http.Header{}}
		ep.ServeHTTP(w, r)
		fmt.Fprintf(c, "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n\r\naccepted, and then", w.code, http.StatusText(w.code))
		time.Sleep(20 * time.Millisecond) // the client reads the head first
		_ = c.(*net.TCPConn).SetLinger(0) // then a reset cuts the body
	})
	devs := devices(2)
	cfgPath := testkit.WriteConfig(t, fieldConfig(url, "", devs))
	ag := testkit.StartAgentFile(t, cfgPath)
	fw := newForwarder(t, ag.UDP)
	sendUplinks(t, fw, devs, 8, 0)
	ep.waitDistinct(t, 8, 15*time.Second)
	ag.Stop(t)
	for range 2 {
		ag = testkit.StartAgentFile(t, cfgPath)
		time.Sleep(time.Second) // what a restart would re-send arrives by then
		ag.Stop(t)
	}
	if d, rep := ep.counts(); d != 8 || rep != 0 {
		t.Fatalf("after restarts: %d distinct, %d repeated", d, rep)
	}
}

type recorder struct {
	h    http.Header
	code int
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// lineServer serves each connection with handle on 127.0.0.1:0.
func lineServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Go(func() {
				defer c.Close()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String() + "/uplink"
}

// Real reverse proxies in front of a 50 ms endpoint: nginx (with a
// limit_req burst it must not trip) and haproxy, from Debian packages.
func TestFieldBehindReverseProxies(t *testing.T) {
	ep := newFieldEndpoint()
	ep.delay = 50 * time.Millisecond
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	upstream := strings.TrimPrefix(srv.URL, "http://")
	proxies := map[string]func(t *testing.T, dir string, port int){
		"nginx": func(t *testing.T, dir string, port int) {
			conf := fmt.Sprintf(`daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  limit_req_zone $binary_remote_addr zone=up:1m rate=100r/s;
  upstream ep { server %[2]s; keepalive 16; }
  server {
    listen 127.0.0.1:%[3]d;
    location / { limit_req zone=up burst=200; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://ep; }
  }
}
`, dir, upstream, port)
			path := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			testkit.StartDaemon(t, port, "nginx", "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path)
		},
		"haproxy": func(t *testing.T, dir string, port int) {
			conf := fmt.Sprintf(`global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:%d
  default_backend be
backend be
  server ep %s
`, port, upstream)
			path := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			testkit.StartDaemon(t, port, "haproxy", "-db", "-f", path)
		},
	}
	devs := devices(10)
	for _, name := range []string{"nginx", "haproxy"} {
		t.Run(name, func(t *testing.T) {
			ep.mu.Lock()
			clear(ep.seen)
			ep.mu.Unlock()
			port := testkit.FreePort(t)
			proxies[name](t, t.TempDir(), port)
			url := fmt.Sprintf("http://127.0.0.1:%d/uplink", port)
			ag := testkit.StartAgent(t, fieldConfig(url, "", devs))
			fw := newForwarder(t, ag.UDP)
			sendUplinks(t, fw, devs, 200, 0)
			ep.waitDistinct(t, 200, 20*time.Second)
			ag.Stop(t)
		})
	}
}

// squid as the connection's forward proxy.
func TestFieldThroughSquid(t *testing.T) {
	ep := newFieldEndpoint()
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	port := testkit.FreePort(t)
	conf := fmt.Sprintf(`http_port 127.0.0.1:%d
http_access allow all
cache deny all
cache_dir null /tmp
pid_filename %[2]s/squid.pid
access_log none
cache_log %[2]s/cache.log
coredump_dir %[2]s
shutdown_lifetime 0 seconds
`, port, dir)
	path := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o777) // squid drops to its own user when run as root
	testkit.StartDaemon(t, port, "squid", "-N", "-f", path)
	devs := devices(4)
	ag := testkit.StartAgent(t, fieldConfig(srv.URL, fmt.Sprintf(`,"proxy":{"hostname":"127.0.0.1:%d"}`, port), devs))
	fw := newForwarder(t, ag.UDP)
	sendUplinks(t, fw, devs, 60, 0)
	ep.waitDistinct(t, 60, 20*time.Second)
	ag.Stop(t)
}

// `edgeflow connections test` says what is wrong in words: a redirect
// names where to, an HTML error page is reduced to its text, a silent
// endpoint names delivery.timeout.
func TestConnectionsTestInWords(t *testing.T) {
	var mode atomic.Value
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		switch mode.Load() {
		case "redirect":
			http.Redirect(w, r, "https://lora.example.com/v2/uplink", http.StatusPermanentRedirect)
		case "html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<h1>403 Forbidden</h1><hr>nginx\r\n</body></html>\r\n")
		case "silent":
			<-r.Context().Done()
		}
	}))
	t.Cleanup(ep.Close)
	cfg := testkit.WriteConfig(t, "delivery:\n  timeout: 1s\nconnections:\n  - {\"name\":\"Bench\",\"connectorId\":\"actility-http-iot\",\"configuration\":{\"destinationURL\":\""+ep.URL+"/up\"}}\n")
	for _, c := range []struct{ mode, want string }{
		{"redirect", "endpoint redirects to https://lora.example.com/v2/uplink; set destinationURL to it"},
		{"html", "endpoint answered 403: 403 Forbidden: 403 Forbidden — nginx\n"},
		{"silent", "no answer within delivery.timeout (1 s)"},
	} {
		mode.Store(c.mode)
		stdout, stderr, _ := testkit.RunCLI(t, "connections", "test", "Bench", "--dev-eui", "70B3D57ED0000001", "--payload", "01", "--config", cfg)
		if out := stdout + stderr; !strings.Contains(out, c.want) || strings.Contains(out, "\r") {
			t.Errorf("%s: output\n%s\nwant %q", c.mode, out, c.want)
		}
	}
}
