package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/internal/testkit"
)

// changeBackend counts the changes that got past the API's checks.
type changeBackend struct {
	emptyBackend
	changes atomic.Int32
}

func (b *changeBackend) UpdateConnections(_ context.Context, change func([]config.Connection) ([]config.Connection, error)) (api.Update, error) {
	b.changes.Add(1)
	conns, err := change(nil)
	return api.Update{Connections: conns}, err
}

func startGuarded(t *testing.T, opts api.Options) (*changeBackend, string, *testkit.LogBuffer) {
	t.Helper()
	b := &changeBackend{}
	log := &testkit.LogBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	srv, err := api.Start(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return b, srv.Addr().String(), log
}

func send(t *testing.T, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

const newConn = `{"name":"Attacker","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://attacker.example/up"}}`

// TestHostHeader: a request for a name that is not the agent's own is DNS
// rebinding (a page's name now resolving to 127.0.0.1) and is refused,
// reads and writes alike; loopback names and addresses, and api.hosts,
// are answered.
func TestHostHeader(t *testing.T) {
	b, addr, log := startGuarded(t, api.Options{Bind: "127.0.0.1:0", Hosts: []string{"gateway.lan"}})
	_, port, _ := net.SplitHostPort(addr)
	base := "http://" + addr
	for _, host := range []string{"attacker.example", "attacker.example:" + port, "rebind.test:" + port, "127.0.0.1.attacker.example", "10.1.2.3:" + port} {
		for _, path := range []string{"/connections", "/status", "/devices", "/events", "/metrics", "/"} {
			if code, body := send(t, "GET", base+path, "", map[string]string{"Host": host}); code != http.StatusMisdirectedRequest || !strings.Contains(body, "api.hosts") {
				t.Errorf("GET %s with Host %s: %d %s", path, host, code, body)
			}
		}
		if code, _ := send(t, "POST", base+"/connections", newConn, map[string]string{"Host": host, "Content-Type": "application/json"}); code != http.StatusMisdirectedRequest {
			t.Errorf("POST with Host %s: %d", host, code)
		}
	}
	if b.changes.Load() != 0 {
		t.Fatal("a request for another host changed the connections")
	}
	for _, host := range []string{addr, "localhost:" + port, "LOCALHOST", "127.0.0.1", "[::1]:" + port, "gateway.lan:" + port, "Gateway.LAN"} {
		if code, body := send(t, "GET", base+"/connections", "", map[string]string{"Host": host}); code != http.StatusOK {
			t.Errorf("GET with Host %s: %d %s", host, code, body)
		}
	}
	// /healthz says nothing and is what load balancers poll by any name.
	if code, _ := send(t, "GET", base+"/healthz", "", map[string]string{"Host": "lb.internal"}); code != http.StatusOK {
		t.Errorf("/healthz with another host: %d", code)
	}
	if n := strings.Count(log.String(), "refused a request for another host name"); n != 1 {
		t.Errorf("the refusals were logged %d times, want once (rate-limited):\n%s", n, log)
	}
}

// TestCrossSiteWrites: the two requests a page on another site can send
// without the browser asking the agent first (a no-cors fetch and an HTML
// form, both text/plain) are refused, and so is any change that says it
// comes from another origin. curl and the page itself still work.
func TestCrossSiteWrites(t *testing.T) {
	b, addr, _ := startGuarded(t, api.Options{Bind: "127.0.0.1:0"})
	base := "http://" + addr
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no-cors fetch", map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"text/plain form", map[string]string{"Content-Type": "text/plain", "Origin": "null", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"form, old browser", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://attacker.example"}, http.StatusForbidden},
		{"another port on localhost", map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"json, but from another site", map[string]string{"Content-Type": "application/json", "Origin": "http://attacker.example"}, http.StatusForbidden},
		{"curl without a type", map[string]string{}, http.StatusUnsupportedMediaType},
		{"curl with text/plain", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
	} {
		for _, path := range []string{"/connections", "/connections/x/deadletters/replay"} {
			if code, body := send(t, "POST", base+path, newConn, c.hdr); code != c.want {
				t.Errorf("%s to %s: %d %s, want %d", c.name, path, code, body, c.want)
			}
		}
	}
	if code, _ := send(t, "DELETE", base+"/connections/x", "", map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cross-site DELETE: %d", code)
	}
	if b.changes.Load() != 0 {
		t.Fatal("a cross-site request reached the connections")
	}
	for _, c := range []struct {
		name string
		hdr  map[string]string
	}{
		{"curl", map[string]string{"Content-Type": "application/json"}},
		{"the page", map[string]string{"Content-Type": "application/json", "Origin": base, "Sec-Fetch-Site": "same-origin"}},
		{"the page through ssh -L", map[string]string{"Content-Type": "application/json; charset=utf-8", "Host": "localhost:9999", "Origin": "http://localhost:9999", "Sec-Fetch-Site": "same-origin"}},
	} {
		before := b.changes.Load()
		code, body := send(t, "POST", base+"/connections", newConn, c.hdr)
		if code != http.StatusCreated || b.changes.Load() != before+1 {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
}

// TestTokenGuardsReads: with a token, everything that shows uplinks,
// devices or connections needs it, on loopback too; a wrong token is
// logged at most once per interval; a short token is refused at start.
func TestTokenGuardsReads(t *testing.T) {
	if _, err := api.Start(emptyBackend{}, api.Options{Bind: "127.0.0.1:0", Token: "short-token"}); err != api.ErrShortToken {
		t.Fatalf("a short token: %v, want ErrShortToken", err)
	}
	if api.MinTokenLength != config.MinTokenLength {
		t.Fatalf("api.MinTokenLength %d != config.MinTokenLength %d", api.MinTokenLength, config.MinTokenLength)
	}
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, addr, log := startGuarded(t, api.Options{Bind: "127.0.0.1:0", Token: testToken, Now: clock})
	base := "http://" + addr
	for _, path := range []string{"/connections", "/connections/x", "/connections/x/deadletters", "/status", "/devices", "/events", "/metrics"} {
		if code, _ := send(t, "GET", base+path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d", path, code)
		}
	}
	for _, path := range []string{"/", "/healthz"} {
		if code, _ := send(t, "GET", base+path, "", nil); code != http.StatusOK {
			t.Errorf("GET %s without the token: %d", path, code)
		}
	}
	wrong := map[string]string{"Authorization": "Bearer wrong-token-0123456789"}
	for range 50 {
		send(t, "GET", base+"/status", "", wrong)
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	send(t, "GET", base+"/status", "", wrong)
	out := log.String()
	if n := strings.Count(out, "wrong token"); n != 2 || !strings.Contains(out, "suppressed=49") {
		t.Errorf("51 wrong tokens were logged %d times, want 2 (the second saying 49 were suppressed):\n%s", n, out)
	}
	if strings.Contains(out, "wrong-token-0123456789") {
		t.Error("the log shows the token that was sent")
	}
}

// TestCAFileThroughTheAPI: the API runs as root; a caFile it is sent is
// not read unless it is under api.caFileDir, and the answer is the same
// whether the file exists or not.
func TestCAFileThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notpem.pem"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := func(ca string) string {
		return `{"name":"TLS","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x.example/up","caFile":"` + ca + `"}}`
	}
	json := map[string]string{"Content-Type": "application/json"}
	for _, c := range []struct {
		dir, ca, want string
	}{
		{"", "/dev/zero", "cannot be set through the API"},
		{"", "/etc/passwd", "cannot be set through the API"},
		{"", "/no/such/file", "cannot be set through the API"},
		{dir, "/dev/zero", "must name a file under " + dir},
		{dir, dir + "/../../etc/passwd", "must name a file under " + dir},
		{dir, "/no/such/file", "must name a file under " + dir},
		{dir, dir + "/notpem.pem", "holds no PEM"},
	} {
		b, addr, _ := startGuarded(t, api.Options{Bind: "127.0.0.1:0", CAFileDir: c.dir})
		code, out := send(t, "POST", "http://"+addr+"/connections", body(c.ca), json)
		if code != http.StatusBadRequest || !strings.Contains(out, c.want) || !strings.Contains(out, "configuration.caFile") || b.changes.Load() != 0 {
			t.Errorf("caFile %s with caFileDir %q: %d %s; want 400 saying %q", c.ca, c.dir, code, out, c.want)
		}
	}
}

// TestHostOnEveryInterface: bound to 0.0.0.0 the agent is reached by any
// of the machine's addresses (an address cannot be rebound), never by a
// name that is not in api.hosts.
func TestHostOnEveryInterface(t *testing.T) {
	_, addr, _ := startGuarded(t, api.Options{Bind: "0.0.0.0:0", Token: testToken, Hosts: []string{"gw.lan"}})
	_, port, _ := net.SplitHostPort(addr)
	base := "http://127.0.0.1:" + port
	auth := func(host string) map[string]string {
		return map[string]string{"Host": host, "Authorization": "Bearer " + testToken}
	}
	for _, host := range []string{"192.168.1.5:" + port, "[fd00::5]:" + port, "gw.lan:" + port} {
		if code, body := send(t, "GET", base+"/status", "", auth(host)); code != http.StatusOK {
			t.Errorf("Host %s: %d %s", host, code, body)
		}
	}
	for _, host := range []string{"evil.example:" + port, "192.168.1.5.nip.io:" + port} {
		if code, _ := send(t, "GET", base+"/status", "", auth(host)); code != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d, want 421", host, code)
		}
	}
}
