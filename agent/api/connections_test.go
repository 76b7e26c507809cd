package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgeflow/agent/api"
	"edgeflow/config"
)

const fileHead = `# Gateway at the pumping station — this comment must survive API changes.
packetForwarder:
  udp:
    bind: "127.0.0.1:0"
api:
  bind: "127.0.0.1:0"
  token: "` + testToken + `"
buffer:
  path: "$DIR/buffer.db"
delivery:
  retryMin: 50ms
  retryMax: 200ms
connections:
  # the first endpoint; this comment too
`

func technicianFile(url string, devs ...device) string {
	var b strings.Builder
	b.WriteString(fileHead)
	b.WriteString(`  - {"name":"First","connectorId":"actility-http-iot","configuration":{"destinationURL":"` + url + `"}}` + "\n")
	b.WriteString("# devices of the station\ndevices:\n")
	for _, d := range devs {
		b.WriteString(d.yaml())
	}
	return b.String()
}

// TestConnectionsFollowTheAPI drives the API as IoT Flow's client would and
// checks, after each change, where a real uplink goes; then that the
// changes survive a restart with the file's other contents intact.
func TestConnectionsFollowTheAPI(t *testing.T) {
	dev := newDevice(1)
	ep1, ep2, ep3 := newEndpoint(t), newEndpoint(t), newEndpoint(t)
	path := filepath.Join(t.TempDir(), "edgeflow.yaml")
	r := startAgent(t, path, technicianFile(ep1.URL, dev))

	r.fw.push(dev, 1, []byte{1})
	ep1.waitFCnts(t, 1)

	// POST: 201, Location, the object with its id and state; secrets masked.
	second := `{"name":"Second","connectorId":"actility-http-iot","configuration":{"destinationURL":"` + ep2.URL + `/up?apikey=SECRET-KEY&site=a","headers":{"Authorization":"Token SECRET-HEADER","X-Site":"pump-1"}}}`
	if resp, _ := r.do("POST", "/connections", "", second); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without the token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := r.do("POST", "/connections", "wrong", second); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST with a wrong token: %d, want 401", resp.StatusCode)
	}
	resp, body := r.must("POST", "/connections", second, http.StatusCreated)
	created := decode[api.Connection](t, body)
	if created.ID != "second" || resp.Header.Get("Location") != "/connections/second" || created.State == "" || !created.Active {
		t.Fatalf("created %+v, Location %q", created, resp.Header.Get("Location"))
	}
	if resp.Header.Get(api.HeaderSaved) != path {
		t.Errorf("%s = %q, want %s", api.HeaderSaved, resp.Header.Get(api.HeaderSaved), path)
	}
	noSecrets(t, body)
	hd := created.Configuration["headers"].(map[string]any)
	if hd["Authorization"] != api.Mask || hd["X-Site"] != "pump-1" {
		t.Errorf("headers shown as %v", hd)
	}
	if u := created.Configuration["destinationURL"]; u != ep2.URL+"/up?apikey=*****&site=a" {
		t.Errorf("destinationURL shown as %v", u)
	}

	// The new connection receives uplinks at once, with the real secrets.
	r.fw.push(dev, 2, []byte{2})
	ep1.waitFCnts(t, 1, 2)
	ep2.waitFCnts(t, 2)
	h, u := ep2.last()
	if h.Get("Authorization") != "Token SECRET-HEADER" || u != "/up?apikey=SECRET-KEY&site=a" {
		t.Fatalf("endpoint got Authorization %q at %q", h.Get("Authorization"), u)
	}

	// With a token set, reads need it too, even on loopback: they show
	// where uplinks go, and the event stream shows them. They never show a
	// secret.
	if resp, body = r.do("GET", "/connections", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /connections without the token: %d %s", resp.StatusCode, body)
	}
	resp, body = r.must("GET", "/connections", "", http.StatusOK)
	noSecrets(t, body)
	if list := decode[[]api.Connection](t, body); len(list) != 2 || list[0].Name != "First" || list[1].Name != "Second" {
		t.Fatalf("list: %s", body)
	}
	_, body = r.must("GET", "/connections/second", "", http.StatusOK)
	noSecrets(t, body)

	// A partial PUT is refused with the reason and changes nothing.
	fileBefore := readFile(t, path)
	for _, partial := range []string{
		`{"connectorId":"actility-http-iot","configuration":{"destinationURL":"` + ep3.URL + `"}}`,
		`{"name":"Second","configuration":{"destinationURL":"` + ep3.URL + `"}}`,
		`{"name":"Second","connectorId":"actility-http-iot"}`,
	} {
		resp, body = r.must("PUT", "/connections/second", partial, http.StatusBadRequest)
		e := decode[errBody](t, body)
		if len(e.Problems) == 0 || !strings.Contains(e.Error, "missing") {
			t.Errorf("partial PUT answer: %s", body)
		}
	}
	if readFile(t, path) != fileBefore {
		t.Fatal("a refused PUT changed the file")
	}
	r.fw.push(dev, 3, []byte{3})
	ep2.waitFCnts(t, 2, 3)

	// GET-modify-PUT: the masked values go back as "*****" and are kept.
	_, body = r.must("GET", "/connections/second", "", http.StatusOK)
	whole := strings.Replace(body, `"name": "Second"`, `"name": "Second, moved"`, 1)
	resp, body = r.must("PUT", "/connections/second", whole, http.StatusOK)
	if got := decode[api.Connection](t, body); got.ID != "second" || got.Name != "Second, moved" {
		t.Fatalf("PUT answered %s", body)
	}
	noSecrets(t, body)
	r.fw.push(dev, 4, []byte{4})
	ep2.waitFCnts(t, 2, 3, 4)
	h, u = ep2.last()
	if h.Get("Authorization") != "Token SECRET-HEADER" || u != "/up?apikey=SECRET-KEY&site=a" {
		t.Fatalf("after PUT with masks the endpoint got Authorization %q at %q", h.Get("Authorization"), u)
	}

	// The masks are not put back for another host: that would send the
	// stored secrets to whoever runs it. The answer names each field.
	fileBefore = readFile(t, path)
	_, body = r.must("GET", "/connections/second", "", http.StatusOK)
	moved := strings.Replace(body, ep2.URL+"/up", ep3.URL+"/up", 1)
	_, body = r.must("PUT", "/connections/second", moved, http.StatusBadRequest)
	var paths []string
	for _, p := range decode[errBody](t, body).Problems {
		paths = append(paths, p.Path)
	}
	if strings.Join(paths, " ") != "configuration.destinationURL configuration.headers.Authorization" || !strings.Contains(body, "type it again") {
		t.Errorf("PUT to a new host with masks answered %s", body)
	}
	if readFile(t, path) != fileBefore {
		t.Fatal("a refused PUT changed the file")
	}
	// Typed again, the change is accepted.
	moved = strings.Replace(moved, "apikey=*****", "apikey=SECRET-KEY", 1)
	moved = strings.Replace(moved, `"Authorization": "*****"`, `"Authorization": "Token SECRET-HEADER"`, 1)
	resp, body = r.must("PUT", "/connections/second", moved, http.StatusOK)
	noSecrets(t, body)
	r.fw.push(dev, 5, []byte{5})
	ep3.waitFCnts(t, 5)
	h, u = ep3.last()
	if h.Get("Authorization") != "Token SECRET-HEADER" || u != "/up?apikey=SECRET-KEY&site=a" {
		t.Fatalf("after PUT with the secrets typed again the endpoint got Authorization %q at %q", h.Get("Authorization"), u)
	}
	ep2.waitFCnts(t, 2, 3, 4) // the old URL gets nothing more

	// Refusals, each with its reason.
	for _, c := range []struct{ body, want string }{
		{`{"name":"X","connectorId":"actility-htp-iot","configuration":{}}`, `did you mean "actility-http-iot"`},
		{`{"name":"X","connectorId":"actility-kafka-iot","configuration":{}}`, "does not implement"},
		{`{"name":"X","connectorId":"actility-http-iot","brand":"CAYENE","configuration":{}}`, `did you mean "CAYENNE"`},
		{`{"name":"X","connectorId":"actility-http-iot","configuration":{"destinationUrl":"https://x.example"}}`, `did you mean "destinationURL"`},
		{`{"name":"X","connectorId":"actility-http-iot","configuration":{"destinationURL":"lora.example/up"}}`, "no scheme"},
		{`{"name":"First","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x.example"}}`, "used twice"},
		{`{"name":"X","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x.example","headers":{"Authorization":"*****"}}}`, "mask"},
		{`{"name":"X",`, "not a JSON object"},
	} {
		_, body = r.must("POST", "/connections", c.body, http.StatusBadRequest)
		if e := decode[errBody](t, body); !strings.Contains(e.Error, c.want) || len(e.Problems) == 0 && c.want != "not a JSON object" {
			t.Errorf("POST %s answered %s; want it to say %q", c.body, body, c.want)
		}
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		r.must(m, "/connections/nope", `{"name":"X","connectorId":"actility-http-iot","configuration":{}}`, http.StatusNotFound)
	}
	if readFile(t, path) == fileBefore {
		t.Fatal("the accepted PUT did not reach the file")
	}

	// DELETE: 204, and the first endpoint gets nothing more.
	if resp, _ := r.do("DELETE", "/connections/first", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("DELETE without the token: %d", resp.StatusCode)
	}
	r.must("DELETE", "/connections/first", "", http.StatusNoContent)
	r.fw.push(dev, 6, []byte{6})
	ep3.waitFCnts(t, 5, 6)
	ep1.waitFCnts(t, 1, 2, 3, 4, 5)

	// A restart reads the changes back; comments and devices are intact.
	// The stop waits until the agent knows FCnt 6 was accepted: a stop
	// while the endpoint's answer is on its way re-sends it (at-least-once).
	r.waitIdle("second", 2)
	r.stop()
	text := readFile(t, path)
	for _, want := range []string{"# Gateway at the pumping station", "# the first endpoint; this comment too", "# devices of the station", strings.ToUpper(dev.DevEUI.String()), "SECRET-HEADER", `"id":"second"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the file lost %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"First"`) || strings.Contains(text, api.Mask) {
		t.Errorf("the file still has the deleted connection or a mask:\n%s", text)
	}
	r = startAgent(t, path, "")
	_, body = r.must("GET", "/connections", "", http.StatusOK)
	if list := decode[[]api.Connection](t, body); len(list) != 1 || list[0].ID != "second" || list[0].Name != "Second, moved" {
		t.Fatalf("after restart: %s", body)
	}
	r.fw.push(dev, 7, []byte{7})
	ep3.waitFCnts(t, 5, 6, 7)
}

type errBody struct {
	Error    string        `json:"error"`
	Problems []api.Problem `json:"problems"`
}

func noSecrets(t *testing.T, body string) {
	t.Helper()
	if strings.Contains(body, "SECRET") {
		t.Fatalf("an answer shows a secret: %s", body)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDefaultsChangeInMemory: with no file, changes apply and the answer
// says they live in memory only.
func TestDefaultsChangeInMemory(t *testing.T) {
	ep := newEndpoint(t)
	dev := newDevice(2)
	cfg := config.DefaultIn(config.Dirs{TempDir: t.TempDir})
	cfg.PacketForwarder.UDP.Bind = "127.0.0.1:0"
	cfg.API.Bind = "127.0.0.1:0"
	cfg.Connections = nil
	cfg.Devices = []config.Device{{DevEUI: dev.DevEUI, DevAddr: dev.DevAddr, NwkSKey: dev.NwkSKey, AppSKey: dev.AppSKey, ABP: true}}
	r := startConfig(t, cfg)
	resp, _ := r.must("POST", "/connections", `{"name":"Bench","connectorId":"actility-http-iot","configuration":{"destinationURL":"`+ep.URL+`"}}`, http.StatusCreated)
	if got := resp.Header.Get(api.HeaderSaved); got != "memory" {
		t.Fatalf("%s = %q, want memory", api.HeaderSaved, got)
	}
	r.fw.push(dev, 7, []byte{7})
	ep.waitFCnts(t, 7)

	// What is accepted with a warning says so in headers.
	resp, _ = r.must("POST", "/connections", `{"name":"Cayenne bench","connectorId":"actility-http-iot","brand":"CAYENNE","configuration":{"destinationURL":"`+ep.URL+`","createDevices":true}}`, http.StatusCreated)
	warns := strings.Join(resp.Header.Values(api.HeaderWarning), "\n")
	if !strings.Contains(warns, "configuration.destinationURL: brand CAYENNE prescribes") || !strings.Contains(warns, "configuration.createDevices: createDevices is ignored") {
		t.Errorf("warnings:\n%s", warns)
	}
}
