package main_test

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

const e2eTIAK = "00112233445566778899aabbccddeeff"

// tunnelAS is an application server written for ThingPark's tunnel
// interface: it checks its headers and verifies the Token by the published
// recipe (SHA-256 over CustomerID, DevEUI, FPort, FCntUp, payload_hex, the
// decoded query before &Token=, and the key). It restarts on its port.
type tunnelAS struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
	docs []map[string]any
	bad  []string
}

func (a *tunnelAS) start() {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		a.t.Fatal(err)
	}
	a.addr = ln.Addr().String()
	srv := &http.Server{Handler: a}
	a.mu.Lock()
	a.srv = srv
	a.mu.Unlock()
	go srv.Serve(ln)
}

func (a *tunnelAS) stop() {
	a.mu.Lock()
	srv := a.srv
	a.srv = nil
	a.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (a *tunnelAS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var doc struct {
		U map[string]any `json:"DevEUI_uplink"`
	}
	_ = json.Unmarshal(body, &doc)
	u := doc.U
	refuse := func(f string, args ...any) {
		a.mu.Lock()
		a.bad = append(a.bad, fmt.Sprintf(f, args...))
		a.mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
	}
	if u == nil {
		refuse("no document")
		return
	}
	if r.Header.Get("X-Thing") != u["DevEUI"] || r.Header.Get("X-Key") != "k-123" {
		refuse("headers X-Thing %q X-Key %q", r.Header.Get("X-Thing"), r.Header.Get("X-Key"))
		return
	}
	raw := r.URL.RawQuery
	j := strings.Index(raw, "&Token=")
	if !strings.HasPrefix(raw, "LrnDevEui=") || j < 0 {
		refuse("query %q", raw)
		return
	}
	q, _ := url.QueryUnescape(raw[:j])
	vals, _ := url.ParseQuery(raw)
	if vals.Get("AS_ID") != "as.example" || vals.Get("LrnInfos") != "AA555A0000000101" {
		refuse("AS_ID %q LrnInfos %q", vals.Get("AS_ID"), vals.Get("LrnInfos"))
		return
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s%s%v%v%s", u["CustomerID"], u["DevEUI"], u["FPort"], u["FCntUp"], u["payload_hex"]) + q + e2eTIAK))
	if hex.EncodeToString(sum[:]) != vals.Get("Token") {
		refuse("token does not verify")
		return
	}
	a.mu.Lock()
	a.docs = append(a.docs, u)
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (a *tunnelAS) received() ([]map[string]any, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.docs...), append([]string(nil), a.bad...)
}

// mqttUplinks is what the broker got: "topic FCntUp Late" per publish.
func mqttUplinks(b *testkit.Broker) []string {
	var out []string
	for _, p := range b.Published() {
		var doc struct {
			U map[string]any `json:"DevEUI_uplink"`
		}
		_ = json.Unmarshal(p.Payload, &doc)
		out = append(out, fmt.Sprintf("%s %v %v", p.Topic, doc.U["FCntUp"], doc.U["Late"]))
	}
	return out
}

// TestAgentConnectors runs the agent with an actility-http-iot connection
// in Basic HTTP compliance (headers with patterns, Token) to a verifying
// server, an actility-mqtt-iot connection to a broker, and an inactive
// connection; both endpoints go away in the middle and come back on their
// ports. Every uplink reaches each endpoint once, in order, the held-back
// ones Late; the inactive connection shows DEACTIVATED with its backlog.
func TestAgentConnectors(t *testing.T) {
	as := &tunnelAS{t: t, addr: "127.0.0.1:0"}
	as.start()
	t.Cleanup(as.stop)
	br := testkit.StartBroker(t, testkit.BrokerOptions{Username: "gw", Password: "pw"})
	d := newDevice(5)
	cfg := fmt.Sprintf(`gateway:
  id: "AA555A0000000101"
packetForwarder:
  udp:
    bind: "127.0.0.1:0"
api:
  bind: "127.0.0.1:0"
buffer:
  path: "$DIR/buffer.db"
delivery:
  retryMin: 50ms
  retryMax: 200ms
connections:
  - {"name":"LRC","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://%s/as",
     "headers":{"X-Thing":"{DevEUI}","X-Key":"k-123"},"lrcCompliance":true,"asId":"as.example",
     "tunnelInterfaceAuthenticationKey":"%s","customerId":"100006246"}}
  - {"name":"MQTT","connectorId":"actility-mqtt-iot","configuration":{"hostName":"%s","protocol":"TCP",
     "username":"gw","password":"pw","uplinkTopicPattern":"things/{DevEUI}/up/{FPort}"}}
  - {"name":"Off","connectorId":"actility-http-iot","active":false,"configuration":{"destinationURL":"http://%s/off"}}
devices:
%s`, as.addr, e2eTIAK, br.Addr, as.addr, d.yaml())
	ag := testkit.StartAgent(t, cfg)
	fw := newForwarder(t, ag.UDP)
	send := func(from, to uint32) {
		for fc := from; fc <= to; fc++ {
			fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, fc, port(3), []byte{byte(fc)}), -70, 5, ""))
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		testkit.WaitUntil(t, what, cond) // the agent's status API: polled
	}
	delivered := func(name string) float64 {
		for _, c := range status(t, ag) {
			if c["name"] == name {
				v, _ := c["delivered"].(float64)
				return v
			}
		}
		return -1
	}
	send(1, 5)
	wait("5 uplinks at both", func() bool { return delivered("LRC") == 5 && delivered("MQTT") == 5 })
	as.stop()
	br.Stop()
	send(6, 20)
	wait("both connections failing", func() bool {
		n := 0
		for _, c := range status(t, ag) {
			if c["state"] == "UNREACHABLE" {
				n++
			}
		}
		return n == 2
	})
	as.start()
	br.Start()
	wait("20 uplinks at both", func() bool { return delivered("LRC") == 20 && delivered("MQTT") == 20 })

	docs, bad := as.received()
	if len(bad) > 0 {
		t.Fatalf("the application server refused: %v", bad)
	}
	pubs := mqttUplinks(br)
	if len(docs) != 20 || len(pubs) != 20 {
		t.Fatalf("HTTP got %d, MQTT got %d; want 20 each", len(docs), len(pubs))
	}
	topic := "things/" + strings.ToUpper(d.devEUI.String()) + "/up/3"
	// HTTP requests in flight together may arrive in any order.
	slices.SortFunc(docs, func(a, b map[string]any) int { return cmp.Compare(a["FCntUp"].(float64), b["FCntUp"].(float64)) })
	for i := range 20 {
		late := 0
		if i >= 5 {
			late = 1
		}
		if docs[i]["FCntUp"] != float64(i+1) || docs[i]["Late"] != float64(late) {
			t.Errorf("HTTP uplink %d: FCntUp %v Late %v", i, docs[i]["FCntUp"], docs[i]["Late"])
		}
		if want := fmt.Sprintf("%s %d %d", topic, i+1, late); pubs[i] != want {
			t.Errorf("MQTT publish %d: %q, want %q", i, pubs[i], want)
		}
	}
	// The inactive connection kept all 20 (a spill to flash in progress
	// may hide some for a moment, hence the wait).
	wait("the inactive connection DEACTIVATED with 20 waiting", func() bool {
		for _, c := range status(t, ag) {
			if c["name"] == "Off" {
				return c["state"] == "DEACTIVATED" && c["backlog"] == float64(20)
			}
		}
		return false
	})
	logs := ag.Log()
	for _, secret := range []string{e2eTIAK, "k-123", `"pw"`, "password=pw"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows a secret (%s)", secret)
		}
	}
	ag.Stop(t)
}

func status(t *testing.T, ag *testkit.Agent) []map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + ag.API + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Connections []map[string]any `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Connections
}
