package browser

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgeflow/internal/testkit"
)

// TestTechnicianSeesWhatIsWrong: what went wrong before the page was
// opened is on it. The Live page shows the last uplinks at load, ✗ for the
// connection that fails; the Devices page names the device with a wrong
// key and the address nobody has, with what to check; the Gateway page
// tells that a reload was refused and why, and fits 1280 px and a phone;
// EUIs are upper case throughout.
func TestTechnicianSeesWhatIsWrong(t *testing.T) {
	chromium(t)
	ep := testkit.NewSink(t)
	good, real := newDevice(1, "Meeting room CO2"), newDevice(2, "Cold store")
	typo := real
	typo.NwkSKey[0] ^= 0xff // the key as the technician typed it
	ag := testkit.StartAgent(t, agentConfig("127.0.0.1:0", "", nil, []string{
		fmt.Sprintf(`{"name":"Bench","connectorId":"actility-http-iot","configuration":{"destinationURL":%q}}`, ep.URL+"/bench"),
		fmt.Sprintf(`{"name":"Backup HTTP","connectorId":"actility-http-iot","configuration":{"destinationURL":%q}}`, refusedURL(t)),
	}, good, typo))

	// Before anyone opens the page: two uplinks, a frame with the wrong
	// key, and one of a device nobody configured.
	push(t, ag.UDP, -57, 7.25, good.frame(t, 10, 1, []byte{0x01, 0x67, 0x00, 0xfe}), real.frame(t, 1, 1, []byte{1}))
	push(t, ag.UDP, -90, 2, newDevice(9, "").frame(t, 1, 1, []byte{1}))
	ep.WaitUplinks(t, 1, "/bench")
	push(t, ag.UDP, -60, 6, good.frame(t, 11, 1, []byte{0x01, 0x67, 0x00, 0xff}))
	ep.WaitUplinks(t, 2, "/bench")

	b := newBrowser(t, front(t, ag.API))
	b.do("open the live page", chromedp.Navigate(b.base+"/#/live"))
	b.wait("the two uplinks from before, delivered to the bench", `[...document.querySelectorAll('#live [data-delivery=ok]')].filter(e => e.textContent.startsWith('Bench')).length === 2`)
	b.wait("✗ for the failing connection on both, none waiting", `(() => {
		const rows = [...document.querySelectorAll('#live tbody tr')];
		return rows.length === 2 && rows.every(r => [...r.querySelectorAll('[data-delivery=failed]')].some(e => e.textContent.startsWith('Backup HTTP') && e.textContent.includes('✗')))
			&& !document.querySelector('#live').textContent.includes('waiting');
	})()`)
	live := evalJS[string](b, `document.querySelector('#live').textContent`)
	if !strings.Contains(live, "AA555A0000000101") || !strings.Contains(live, "70B3D57ED0000001") || strings.Contains(live, "aa555a") {
		t.Errorf("EUIs on the live page are not upper case: %s", live)
	}
	// The technician presses the button of the device with the wrong key,
	// watching the page: its frame shows, refused, with what to check.
	push(t, ag.UDP, -70, 5, real.frame(t, 2, 1, []byte{2}))
	b.wait("the refused frame on the live page", `(() => {
		const r = document.querySelector('#live tr[data-rejected=mic_failure][data-deveui="70B3D57ED0000002"]');
		return !!r && r.textContent.includes('refused: MIC failure') && r.textContent.includes('check nwkSKey/devAddr');
	})()`)
	b.screenshot("live-at-load.png", false)

	b.click(`a[data-nav=devices]`)
	b.wait("the wrong key named, with what to check", `(() => {
		const r = document.querySelector('#devices tr[data-deveui="70B3D57ED0000002"] .rejection[data-reason=mic_failure]');
		return !!r && r.textContent.includes('MIC failure ×2') && r.textContent.includes('check nwkSKey/devAddr (or the OTAA join was not seen)');
	})()`)
	b.wait("the address nobody has", `(() => {
		const r = document.querySelector('#unknown tr[data-devaddr="260B0009"]');
		return !!r && r.textContent.includes('-90 dBm') && r.textContent.includes('AA555A0000000101');
	})()`)
	if n := evalJS[int](b, `document.querySelectorAll('#devices tr[data-deveui="70B3D57ED0000001"] .rejection').length`); n != 0 {
		t.Errorf("the good device shows a rejection")
	}
	if over := evalJS[string](b, `[...document.querySelectorAll('#view .scroll')].filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.scrollWidth + '>' + s.clientWidth).join(' ')`); over != "" {
		t.Errorf("the Devices page does not fit 1280 px: %s", over)
	}
	b.screenshot("devices-rejected.png", false)

	// A reload with a broken file, as `/etc/init.d/edgeflow reload` or an
	// editor's save would do it: refused, and the page says why.
	var st struct {
		Config string `json:"config"`
	}
	apiGet(t, ag.API, "/status", "", &st)
	text, err := os.ReadFile(st.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.Config, []byte(strings.Replace(string(text), "retryMax:", "retryMx:", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	b.click(`a[data-nav=gateway]`)
	b.wait("the refused reload with its problem", `(() => {
		const r = document.querySelector('#reload[data-ok=false]');
		return !!r && r.textContent.includes('refused') && [...r.querySelectorAll('ul.problems li')].some(li => li.textContent.includes('retryMx'));
	})()`)
	fits := `(() => {
		const over = [...document.querySelectorAll('#view .scroll')].filter(s => s.scrollWidth > s.clientWidth + 1);
		return document.documentElement.scrollWidth <= window.innerWidth && over.length === 0;
	})()`
	b.wait("the packet forwarder", `!!document.querySelector('#gateways td')`)
	if !evalJS[bool](b, fits) {
		t.Errorf("the Gateway page does not fit 1280 px: %s", evalJS[string](b, `[...document.querySelectorAll('#view .scroll')].map(s => s.scrollWidth + '>' + s.clientWidth).join(' ')`))
	}
	gw := evalJS[string](b, `document.querySelector('#view').textContent`)
	if !strings.Contains(gw, "AA555A0000000101") || strings.Contains(gw, "aa555a") {
		t.Errorf("EUIs on the gateway page are not upper case")
	}
	b.screenshot("gateway-reload.png", false)
	b.do("phone size", chromedp.EmulateViewport(390, 844))
	if !evalJS[bool](b, fits) {
		t.Logf("wider than the phone: %s", evalJS[string](b, `[...document.querySelectorAll('#view *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + e.textContent.slice(0, 40)).join(' | ')`))
	}
	b.wait("the page laid out again", fits)
	b.screenshot("gateway-phone.png", false)
	b.do("desktop size", chromedp.EmulateViewport(1280, 860))
	b.check()
}
