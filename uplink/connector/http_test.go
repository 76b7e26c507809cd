package connector_test

import (
	"context"
	"crypto/sha256"
	"edgeflow/internal/testkit"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
	"edgeflow/uplink/delivery"
)

const testTIAK = "f3203a20a2e8dfaf6686b621f56d05e3"

// lrcServer is an application server written for ThingPark's tunnel
// interface: it checks the headers it was promised and verifies the Token
// by the published recipe (reference §1.3), independently of the
// connector's code. It can be stopped and restarted on the same port.
type lrcServer struct {
	t    *testing.T
	addr string
	key  string

	mu   sync.Mutex
	srv  *http.Server
	got  []map[string]any
	errs []string
}

func newLRCServer(t *testing.T, key string) *lrcServer {
	s := &lrcServer{t: t, key: key}
	s.start("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

func (s *lrcServer) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(s.handle)}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *lrcServer) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (s *lrcServer) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var doc struct {
		U map[string]any `json:"DevEUI_uplink"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		s.fail(w, "body: %v", err)
		return
	}
	u := doc.U
	devEUI, _ := u["DevEUI"].(string)
	if got := r.Header.Get("X-Thing"); got != devEUI {
		s.fail(w, "X-Thing %q, want the DevEUI %q", got, devEUI)
		return
	}
	if got, want := r.Header.Get("X-Route"), fmt.Sprintf("port-%v/%v", u["FPort"], u["DevAddr"]); got != want {
		s.fail(w, "X-Route %q, want %q", got, want)
		return
	}
	if r.Header.Get("Authorization") != "Bearer eg89a53sx!=" {
		s.fail(w, "Authorization %q", r.Header.Get("Authorization"))
		return
	}
	if r.URL.Query().Get("tenant") != "t1" {
		s.fail(w, "the destination URL's own query was lost: %s", r.URL.RawQuery)
		return
	}
	if code := s.verify(r.URL.RawQuery, u); code != 0 {
		w.WriteHeader(code)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, u)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// verify is what Actility's verify_token_in_uplink scripts do: the query
// before "&Token=", unquoted, after the body elements, then the key.
func (s *lrcServer) verify(raw string, u map[string]any) int {
	// The strictest reading of the recipe: the query from its start up to
	// "&Token=" (the destination URL's own query comes after the Token).
	i := 0
	j := strings.Index(raw, "&Token=")
	if !strings.HasPrefix(raw, "LrnDevEui=") || j < 0 {
		s.record("no LRC parameters or no Token in %q", raw)
		return http.StatusForbidden
	}
	q, err := url.QueryUnescape(raw[i:j])
	if err != nil {
		s.record("query: %v", err)
		return http.StatusBadRequest
	}
	vals, _ := url.ParseQuery(raw[i:])
	if vals.Get("AS_ID") != "edgeflow-test" || vals.Get("LrnInfos") != "AA555A0000000101" {
		s.record("AS_ID %q LrnInfos %q", vals.Get("AS_ID"), vals.Get("LrnInfos"))
		return http.StatusForbidden
	}
	if vals.Get("LrnDevEui") != u["DevEUI"] || vals.Get("LrnFPort") != fmt.Sprint(u["FPort"]) {
		s.record("LrnDevEui/LrnFPort %q/%q do not match the body", vals.Get("LrnDevEui"), vals.Get("LrnFPort"))
		return http.StatusForbidden
	}
	sent, err := time.Parse("2006-01-02T15:04:05.000-07:00", vals.Get("Time"))
	if err != nil || time.Since(sent).Abs() > time.Minute {
		s.record("Time %q is not the send time (%v)", vals.Get("Time"), err)
		return http.StatusForbidden
	}
	elems := fmt.Sprintf("%s%s%v%v%s", u["CustomerID"], u["DevEUI"], u["FPort"], u["FCntUp"], u["payload_hex"])
	sum := sha256.Sum256([]byte(elems + q + strings.ToLower(s.key)))
	if hex.EncodeToString(sum[:]) != vals.Get("Token") {
		s.record("token %s does not verify", vals.Get("Token"))
		return http.StatusForbidden
	}
	return 0
}

func (s *lrcServer) fail(w http.ResponseWriter, format string, args ...any) {
	s.record(format, args...)
	w.WriteHeader(http.StatusBadRequest)
}

func (s *lrcServer) record(format string, args ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *lrcServer) received() ([]map[string]any, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.got...), append([]string(nil), s.errs...)
}

func testUplink(fcnt uint32) uplink.Uplink {
	return uplink.Uplink{
		DevEUI: lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, byte(fcnt % 3)}, DevAddr: lorawan.DevAddr{0x26, 0x0b, 0, byte(fcnt % 3)},
		MType: lorawan.UnconfirmedDataUp, FCnt: fcnt, FPort: uint8(1 + fcnt%4), Payload: []byte{0xca, 0xfe, byte(fcnt)},
		ReceivedAt: time.Now().UTC(), Frequency: 868.1, SF: 7, DataRate: "SF7BW125",
		Receptions: []uplink.Reception{{GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1}, RSSI: -70, SNR: 5}},
	}
}

func newManager(t *testing.T, conn delivery.Connection) (*delivery.Manager, *buffer.Store) {
	t.Helper()
	st, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := delivery.NewManager(st, delivery.Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		SpillAfter: 200 * time.Millisecond}, nil, nil)
	m.Start(context.Background(), []delivery.Connection{conn})
	t.Cleanup(func() { _ = m.Stop(context.Background()); st.Close() })
	return m, st
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitUntil(t, what, cond)
}

// The whole HTTP path against a ThingPark-style application server: header
// patterns, LRC parameters and Token verified by the server, and an outage
// (the server gone, connection refused) in the middle. Every uplink arrives
// once, in order; those held back are Late.
func TestHTTPLRCThroughOutage(t *testing.T) {
	s := newLRCServer(t, testTIAK)
	h, err := connector.NewHTTP(connector.HTTPConfig{
		URL: "http://" + s.addr + "/uplink?tenant=t1",
		Headers: map[string]string{
			"Authorization": "Bearer eg89a53sx!=",
			"X-Thing":       "{DevEUI}",
			"x-route":       "port-{FPort}/{DevAddr}",
		},
		CustomerID: "100002167",
		LRC:        &connector.LRCConfig{ASID: "edgeflow-test", Key: testTIAK}, // LrnInfos: the gateway's EUI
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newManager(t, delivery.Connection{ID: "lrc", Name: "lrc", Connector: h})
	ctx := context.Background()
	for i := uint32(1); i <= 5; i++ {
		if err := m.Enqueue(ctx, []uplink.Uplink{testUplink(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Stop only once the lane has its answers: a server closed between
	// recording an uplink and answering makes a duplicate, which is
	// at-least-once delivery, not what this test is about.
	waitUntil(t, "5 deliveries", func() bool { _, errs := s.received(); return m.Status()[0].Delivered == 5 || len(errs) > 0 })
	s.stop()
	for i := uint32(6); i <= 30; i++ {
		if err := m.Enqueue(ctx, []uplink.Uplink{testUplink(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "UNREACHABLE", func() bool { return m.Status()[0].State == delivery.StateUnreachable })
	s.start(s.addr)
	// Once all 30 are delivered with none waiting nothing more is sent:
	// what the server has then is all it gets.
	waitUntil(t, "30 deliveries", func() bool {
		_, errs := s.received()
		st := m.Status()[0]
		return st.Delivered == 30 && st.Backlog == 0 || len(errs) > 0
	})
	got, errs := s.received()
	if len(errs) > 0 {
		t.Fatalf("the server refused: %v", errs)
	}
	if len(got) != 30 {
		t.Fatalf("got %d uplinks, want 30", len(got))
	}
	// Several requests are in flight at once: answers, and so arrivals,
	// may interleave; each uplink arrives once.
	seen := map[int]bool{}
	for _, u := range got {
		f := int(u["FCntUp"].(float64))
		if seen[f] || f < 1 || f > 30 {
			t.Fatalf("FCntUp %d repeated or unknown", f)
		}
		seen[f] = true
		if want := float64(0); f > 5 && u["Late"] == want {
			t.Errorf("FCntUp %d delivered after the outage is not Late", f)
		}
		if f <= 5 && u["Late"] != float64(0) {
			t.Errorf("FCntUp %d delivered live is Late", f)
		}
	}
	if st := m.Status()[0]; st.State != delivery.StateOpened || st.Backlog != 0 {
		t.Errorf("after the outage: %s with %d waiting", st.State, st.Backlog)
	}
}

// A wrong key is what a server verifying tokens answers 403 to: the lane
// keeps the uplink and shows AUTHENTICATION_FAILED.
func TestHTTPWrongKeyIsUnauthorized(t *testing.T) {
	s := newLRCServer(t, testTIAK)
	h, err := connector.NewHTTP(connector.HTTPConfig{
		URL:     "http://" + s.addr + "/uplink?tenant=t1",
		Headers: map[string]string{"Authorization": "Bearer eg89a53sx!=", "X-Thing": "{DevEUI}", "X-Route": "port-{FPort}/{DevAddr}"},
		LRC:     &connector.LRCConfig{ASID: "edgeflow-test", LrnInfos: "AA555A0000000101", Key: "00112233445566778899aabbccddeeff"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := testUplink(1)
	err = h.Send(context.Background(), &u, false)
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Kind != connector.Unauthorized {
		t.Fatalf("err %v, want Unauthorized", err)
	}
}

func TestHTTPRefusesBadHeaderPatternWithoutShowingIt(t *testing.T) {
	_, err := connector.NewHTTP(connector.HTTPConfig{URL: "http://127.0.0.1:1/", Headers: map[string]string{"Authorization": "Token {s3cret!}"}}, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "Authorization") {
		t.Fatalf("err %v", err)
	}
}
