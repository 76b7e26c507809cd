package browser

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgeflow/internal/testkit"
)

// connection is what GET /connections shows of one, for the checks that
// the page and the API agree.
type connection struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Brand         string         `json:"brand"`
	Active        bool           `json:"active"`
	State         string         `json:"state"`
	Configuration map[string]any `json:"configuration"`
}

func agentConfig(bind, token string, upstreams, conns []string, devs ...device) string {
	var b strings.Builder
	b.WriteString("packetForwarder:\n  udp:\n    bind: \"127.0.0.1:0\"\n")
	if len(upstreams) > 0 {
		fmt.Fprintf(&b, "    upstreams: [%q]\n", strings.Join(upstreams, `", "`))
	}
	fmt.Fprintf(&b, "api:\n  bind: %q\n", bind)
	if token != "" {
		fmt.Fprintf(&b, "  token: %q\n", token)
	}
	b.WriteString("buffer:\n  path: \"$DIR/buffer.db\"\ndelivery:\n  retryMax: 2s\nconnections:\n")
	if len(conns) == 0 {
		b.WriteString("  []\n")
	}
	for _, c := range conns {
		b.WriteString("  - " + c + "\n")
	}
	b.WriteString("devices:\n")
	for _, d := range devs {
		b.WriteString(d.yaml())
	}
	return b.String()
}

// TestTechnician walks through what a technician does with the page: the
// seed's Cayenne procedure (Connections → Create → Cayenne → name → Create
// → notification → details), pointing it at a test bench in place, then
// uplinks from a packet forwarder seen arriving at the endpoint and on the
// live page, and every other page, with a screenshot of each.
//
// The Cayenne form has no URL (Cayenne's is fixed), so the connection is
// created exactly as on site and then given the local endpoint through
// Edit → value → Confirm on its details page, as a test bench would; the
// API accepts another URL for CAYENNE with a warning.
func TestTechnician(t *testing.T) {
	chromium(t)
	ep := testkit.NewSink(t)
	bench := ep.URL + "/cayenne" // where the Cayenne connection is pointed
	d1, d2 := newDevice(1, "Meeting room CO2"), newDevice(2, "Cold store")
	ag := testkit.StartAgent(t, agentConfig("127.0.0.1:0", "", []string{networkServer(t)}, []string{
		fmt.Sprintf(`{"name":"Backup HTTP","connectorId":"actility-http-iot","configuration":{"destinationURL":%q}}`, refusedURL(t)),
		fmt.Sprintf(`{"name":"Old bench","connectorId":"actility-http-iot","active":false,"configuration":{"destinationURL":%q}}`, ep.URL+"/old-bench"),
	}, d1, d2))
	b := newBrowser(t, front(t, ag.API))

	b.do("open the page", chromedp.Navigate(b.base+"/#/connections"))
	b.wait("the connection list", `document.querySelectorAll('#connections tbody tr').length === 2`)

	// Connections → Create → Cayenne.
	b.click(`a.button[href="#/create"]`)
	b.wait("the type choice", `!!document.querySelector('.type[data-type=cayenne]')`)
	b.screenshot("create-type.png", false)
	b.click(`.type[data-type=cayenne]`)
	b.wait("the Cayenne form", `!!document.querySelector('#create #f-name')`)
	if n := evalJS[int](b, `document.querySelectorAll('#create input, #create textarea').length`); n != 2 {
		t.Errorf("the Cayenne form has %d fields, want 2 (name, description)", n)
	}
	// A missing name is said at the field, before anything is sent.
	b.click(`#create button[type=submit]`)
	b.wait("the error at the name", `(document.querySelector('#err-f-name')||{}).textContent === 'A name is mandatory.'`)
	b.do("type the name", chromedp.SendKeys(chromedp.CSS("#f-name"), "Cayenne bench"))
	b.screenshot("create-cayenne.png", false)
	b.click(`#create button[type=submit]`)
	b.toast("Connection “Cayenne bench” created")
	b.wait("the details page", `/^#\/connections\/[^/]+$/.test(location.hash) && !!document.querySelector('#params')`)
	id := strings.TrimPrefix(evalJS[string](b, `decodeURIComponent(location.hash)`), "#/connections/")

	var conns []connection
	apiGet(t, ag.API, "/connections", "", &conns)
	created := find(conns, "Cayenne bench")
	if created == nil || created.ID != id || created.Brand != "CAYENNE" {
		t.Fatalf("the API does not show the connection the page created (id %s): %+v", id, conns)
	}

	// The MQTT form: the broker is mandatory, and given with a scheme the
	// API says why not, at the field.
	b.show("#/create/mqtt")
	b.wait("the MQTT form", `!!document.querySelector('#create #f-host')`)
	b.do("name it", chromedp.SendKeys(chromedp.CSS("#f-name"), "Broker"))
	b.click(`#create button[type=submit]`)
	b.wait("the error at the broker", `(document.querySelector('#err-f-host')||{}).textContent === 'Broker is mandatory.'`)
	b.do("a broker with a scheme", chromedp.SendKeys(chromedp.CSS("#f-host"), "mqtt://127.0.0.1:1883"))
	b.click(`#create button[type=submit]`)
	b.wait("the API's problem at the broker", `((document.querySelector('#err-f-host')||{}).textContent||'').includes('without a scheme')`)

	// A problem the API finds shows at its field too: the HTTP form with
	// the name the Cayenne connection already has.
	b.show("#/create/http")
	b.wait("the HTTP form", `!!document.querySelector('#create #f-url')`)
	b.do("fill in the HTTP form", chromedp.SendKeys(chromedp.CSS("#f-name"), "Cayenne bench"), chromedp.SendKeys(chromedp.CSS("#f-url"), ep.URL+"/http"))
	b.click(`#create button[type=submit]`)
	b.wait("the API's problem at the name", `((document.querySelector('#err-f-name')||{}).textContent||'').includes('used twice')`)
	b.screenshot("create-http-error.png", false)
	b.show("#/connections/" + id)

	// Edit → value → Confirm → confirmation → notification.
	b.click(`button[data-edit="configuration.destinationURL"]`)
	b.do("type the bench URL", chromedp.SetValue(chromedp.CSS("#edit-configuration-destinationURL"), bench))
	b.click(`#params form button[type=submit]`)
	b.confirm()
	b.toast("configuration.destinationURL saved")
	b.toast("Accepted with a warning") // CAYENNE prescribes its own URL
	apiGet(t, ag.API, "/connections/"+id, "", created)
	if created.Configuration["destinationURL"] != bench {
		t.Fatalf("after the edit the API shows destinationURL %v, want %s", created.Configuration["destinationURL"], bench)
	}
	b.wait("the new URL on the details page", fmt.Sprintf(`((document.querySelector('#params')||{}).textContent||'').includes(%q)`, bench))
	b.screenshot("connection.png", true)

	// Uplinks from the packet forwarder, seen on the live page and at the endpoint.
	b.click(`a[data-nav=live]`)
	b.wait("the event stream", `(document.querySelector('#live-state')||{}).textContent === 'connected'`)
	push(t, ag.UDP, -57, 7.25, d1.frame(t, 10, 1, []byte{0x01, 0x67, 0x00, 0xfe}), d2.frame(t, 3, 2, []byte{0x03, 0x67, 0xff, 0x38}))
	push(t, ag.UDP, -101, -3.5, d1.frame(t, 11, 1, []byte{0x01, 0x67, 0x01, 0x02}))
	ep.WaitUplinks(t, 3, "/cayenne")
	b.wait("three uplinks delivered to the Cayenne connection on the live page",
		`[...document.querySelectorAll('#live [data-delivery=ok]')].filter(e => e.textContent.startsWith('Cayenne bench')).length === 3`)
	b.wait("the failing connection's attempts on the live page", `document.querySelectorAll('#live [data-delivery=failed]').length > 0`)
	for _, want := range []string{"70B3D57ED0000001", "0167010", "aa555a0000000101"} {
		if !strings.Contains(strings.ToLower(evalJS[string](b, `document.querySelector('#live').textContent`)), strings.ToLower(want)) {
			t.Errorf("the live page does not show %s", want)
		}
	}
	b.screenshot("live.png", false)

	b.click(`a[data-nav=devices]`)
	b.wait("the devices with their last uplink",
		`[...document.querySelectorAll('#devices tbody tr')].some(r => r.textContent.includes('Meeting room CO2') && r.textContent.includes('11') && r.textContent.includes('-101 dBm'))`)
	b.screenshot("devices.png", false)

	b.click(`a[data-nav=gateway]`)
	b.wait("the packet forwarder on the gateway page", `document.querySelector('#view').textContent.toLowerCase().includes('aa555a0000000101')`)
	b.wait("the version", `!!document.querySelector('#agent b')`)
	b.wait("the UDP source listening and the relay upstream up, in green", `(() => {
		const green = (type, state) => [...document.querySelectorAll('[data-section=sources] tr')].some(r =>
			r.cells[0].textContent === type && r.querySelector('.badge.green') && r.textContent.includes(state));
		return green('udp', 'listening') && green('upstream', 'up');
	})()`)
	b.screenshot("gateway.png", false)

	// The list: green for the bench, red for the failing one, grey for the deactivated.
	b.click(`a[data-nav=connections]`)
	b.wait("the three states", `(() => {
		const c = (name) => [...document.querySelectorAll('#connections tbody tr')].find(r => r.textContent.includes(name));
		const cls = (name) => c(name) && c(name).querySelector('.badge').className;
		return cls('Cayenne bench') === 'badge green' && cls('Backup HTTP') === 'badge red' && cls('Old bench') === 'badge grey';
	})()`)
	b.screenshot("connections.png", false)
	b.do("phone size", chromedp.EmulateViewport(390, 844))
	b.screenshot("connections-phone.png", false)
	b.do("desktop size", chromedp.EmulateViewport(1280, 860))

	// Activate and delete, each with its confirmation; the API agrees after each.
	b.click(`#connections tr[data-id] button[data-action=activate]`)
	b.confirm()
	b.toast("“Old bench” activated")
	apiGet(t, ag.API, "/connections", "", &conns)
	if c := find(conns, "Old bench"); c == nil || !c.Active {
		t.Errorf("after Activate the API shows %+v", c)
	}
	backup := find(conns, "Backup HTTP")
	b.wait("the list again", fmt.Sprintf(`!!document.querySelector('#connections tr[data-id=%q] button[data-action=delete]')`, backup.ID))
	b.click(fmt.Sprintf(`#connections tr[data-id=%q] button[data-action=delete]`, backup.ID))
	b.confirm()
	b.toast("“Backup HTTP” deleted")
	apiGet(t, ag.API, "/connections", "", &conns)
	if find(conns, "Backup HTTP") != nil || len(conns) != 2 {
		t.Errorf("after Delete the API shows %+v", conns)
	}
	b.wait("the list without it", `document.querySelectorAll('#connections tbody tr').length === 2`)
	old := find(conns, "Old bench")
	b.click(fmt.Sprintf(`#connections tr[data-id=%q] button[data-action=deactivate]`, old.ID))
	b.confirm()
	b.toast("“Old bench” deactivated")
	apiGet(t, ag.API, "/connections", "", &conns)
	if c := find(conns, "Old bench"); c == nil || c.Active {
		t.Errorf("after Deactivate the API shows %+v", c)
	}

	// An uplink the endpoint refuses is a dead letter on the details page;
	// Replay sends it again, and now it is taken.
	refused := false
	ep.SetAnswer(func(r *testkit.Request) int {
		if r.Uplink["FPort"] == 3.0 && !refused {
			refused = true
			return http.StatusBadRequest
		}
		return http.StatusAccepted
	})
	push(t, ag.UDP, -80, 5, d2.frame(t, 4, 3, []byte{0x05, 0x00}))
	b.show("#/connections/" + id)
	b.wait("the dead letter", `document.querySelectorAll('#deadletters tbody tr').length === 1`)
	b.screenshot("deadletters.png", false)
	b.click("#replay")
	b.confirm()
	b.toast("1 refused uplink sent again")
	// (Whether it carries Late: 1 is delivery's contract, tested there.)
	if got := ep.WaitUplinks(t, 4, "/cayenne"); got[3]["FPort"] != 3.0 {
		t.Errorf("the fourth uplink at the endpoint has FPort %v, want the replayed one's 3", got[3]["FPort"])
	}
	b.check()
}

// TestToken: on a LAN address the API wants its token. The page asks for
// it, keeps it for the tab, uses it for the event stream too, and never
// puts it in the document.
func TestToken(t *testing.T) {
	lan := lanAddr()
	if lan == "" {
		t.Skip("no non-loopback address to bind the API to")
	}
	chromium(t)
	const token = "s3cret-token-for-the-browser-test"
	ag := testkit.StartAgent(t, agentConfig(lan+":0", token, nil, nil, newDevice(1, "Meeting room CO2")))
	b := newBrowser(t, front(t, ag.API))

	b.do("open the page", chromedp.Navigate(b.base+"/#/gateway"))
	b.wait("the login form", `!!document.querySelector('#token')`)
	b.screenshot("login.png", false)
	b.do("a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "wrong"))
	b.click(`.login button[type=submit]`)
	b.wait("the refusal", `((document.querySelector('.login')||{}).textContent||'').includes('refused')`)
	b.do("the token", chromedp.SendKeys(chromedp.CSS("#token"), token))
	b.click(`.login button[type=submit]`)
	b.wait("the gateway page", `!!document.querySelector('#agent b')`)
	b.click(`a[data-nav=live]`)
	b.wait("the event stream with the token", `(document.querySelector('#live-state')||{}).textContent === 'connected'`)
	if html := evalJS[string](b, `document.documentElement.outerHTML`); strings.Contains(html, token) {
		t.Error("the token is in the document")
	}

	// An HTTP connection with a secret header, created through the form:
	// the secret is sent once and never shown again, not even in the
	// input that edits it.
	const secret = "topsecret-header-value"
	b.show("#/create/http")
	b.wait("the HTTP form", `!!document.querySelector('#create #f-url')`)
	b.do("fill in the HTTP form", chromedp.SendKeys(chromedp.CSS("#f-name"), "Bench HTTP"),
		chromedp.SendKeys(chromedp.CSS("#f-url"), "http://127.0.0.1:9/uplink"),
		chromedp.SendKeys(chromedp.CSS("#f-headers"), "X-Api-Key: "+secret))
	b.click(`#create button[type=submit]`)
	b.toast("Connection “Bench HTTP” created")
	b.wait("the details page", `!!document.querySelector('button[data-edit="configuration.headers.X-Api-Key"]')`)
	if row := evalJS[string](b, `document.querySelector('button[data-edit="configuration.headers.X-Api-Key"]').parentNode.textContent`); !strings.HasPrefix(row, "*****") {
		t.Errorf("the header shows as %q, want it masked", row)
	}
	b.click(`button[data-edit="configuration.headers.X-Api-Key"]`)
	b.wait("the edit field", `!!document.querySelector('#edit-configuration-headers-X-Api-Key')`)
	if v := evalJS[string](b, `document.querySelector('#edit-configuration-headers-X-Api-Key').value`); v != "" {
		t.Errorf("the secret's edit field holds %q", v)
	}
	if html := evalJS[string](b, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
		t.Error("the header's secret is in the document")
	}
	if got := evalJS[string](b, `sessionStorage.getItem('edgeflow.token')`); got != token {
		t.Errorf("sessionStorage holds %q", got)
	}
	b.check()
}

func find(conns []connection, name string) *connection {
	for i := range conns {
		if conns[i].Name == name {
			return &conns[i]
		}
	}
	return nil
}
