// Package browser drives the agent's web page in a real browser
// (headless Chromium through chromedp): what a technician does on site,
// from creating a Cayenne connection to watching uplinks arrive. It skips
// when chromium is not installed; scripts/ci-browser.sh installs it.
//
// EDGEFLOW_SCREENSHOTS=DIR keeps a screenshot of each page in DIR
// (docs/screenshots is where the documentation looks for them).
package browser

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"edgeflow/agent/api/web"

	"edgeflow/internal/testkit"
)

type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string // the page's origin
	shots string
	mu    sync.Mutex
	hosts map[string]bool // every host the page sent a request to
	errs  []string        // exceptions and console errors
}

// chromium skips the test when there is no browser to drive (and fails it
// under CI, which installs one); tests call it first, before building
// anything.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser test takes half a minute; not in -short")
	}
	path, err := exec.LookPath("chromium")
	testkit.Need(t, err == nil, "chromium (scripts/ci-browser.sh installs it)")
	return path
}

// newBrowser starts Chromium for the page at base; extra options go to
// its command line (the attack tests map host names with them).
func newBrowser(t *testing.T, base string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860))
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, base: base, hosts: map[string]bool{}, shots: os.Getenv("EDGEFLOW_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err == nil && u.Scheme != "data" {
				b.hosts[u.Host] = true
			}
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.errs = append(b.errs, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				b.errs = append(b.errs, "console.error")
			}
		case *log.EventEntryAdded:
			// An API answer of 400 or 401 is a resource "failing" to load for
			// the browser, and one the page handles; anything else (a CSP
			// violation above all) is a fault.
			if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
				b.errs = append(b.errs, ev.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// wait polls a JavaScript predicate until it holds.
func (b *browser) wait(what, js string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		// Say what the page shows instead: that is what a failure is about.
		shown, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.hash + " | " + document.querySelector('#view').textContent`))
		b.t.Fatalf("waiting for %s (%s): %v\npage: %s", what, js, err, shown)
	}
}

func evalJS[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (b *browser) show(hash string) {
	b.t.Helper()
	b.do("go to "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", hash)))
}

// click clicks the element css selects, once it is there and shown.
//
// The click is the element's own (el.click(), found and clicked in one
// step of the page's script), not a mouse event at where the element was:
// the page re-renders its tables as live events come, and a row that grew
// between the lookup and a mouse click sent the click elsewhere (a loaded
// machine made it happen; another row's button would be worse).
func (b *browser) click(css string) {
	b.t.Helper()
	b.wait("click "+css, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || e.disabled || !e.getClientRects().length) return false; // not there yet, or hidden
		e.click();
		return true;
	})()`, css))
}

// confirm answers the page's confirmation dialog with its Confirm button.
func (b *browser) confirm() {
	b.t.Helper()
	b.wait("the confirmation dialog", `document.querySelector('#confirm').open`)
	b.click("#confirm-ok")
}

// toast waits for a notification that says want.
func (b *browser) toast(want string) {
	b.t.Helper()
	b.wait("a notification saying "+want, fmt.Sprintf(`[...document.querySelectorAll('.toast')].some(t => t.textContent.includes(%q))`, want))
}

// screenshot saves the page; notifications of earlier steps are taken
// away first unless toasts is set, so each picture shows its own page.
func (b *browser) screenshot(name string, toasts bool) {
	b.t.Helper()
	if !toasts {
		b.do("clear notifications", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.toast').forEach(t => t.remove())`))
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// check fails on any request to another host than the page's own, and on
// any script error, both of which a technician's browser would hide.
func (b *browser) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	own, _ := url.Parse(b.base)
	for h := range b.hosts {
		if h != own.Host {
			b.t.Errorf("the page sent a request to %s; it must only talk to %s", h, own.Host)
		}
	}
	for _, e := range b.errs {
		b.t.Errorf("the page reported an error: %s", e)
	}
}

// refusedURL is an http URL nothing listens on: a connection that fails.
func refusedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String() + "/uplink"
	ln.Close()
	return u
}

// TestCheckCatchesOtherHosts makes sure check() is not blind: a page that
// reaches for another host must be caught, by the request itself or by the
// Content-Security-Policy's report of the attempt.
func TestCheckCatchesOtherHosts(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	b := newBrowser(t, srv.URL)
	b.do("open the page", chromedp.Navigate(srv.URL+"/#/gateway"))
	b.do("reach out", chromedp.Evaluate[chromedp.Void](`fetch('http://192.0.2.99/x').catch(() => {}); void 0`))
	b.wait("the attempt to be seen", `new Promise(r => setTimeout(() => r(true), 500))`)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.hosts["192.0.2.99"] && len(b.errs) == 0 {
		t.Error("a request to another host went unnoticed")
	}
	t.Logf("seen: hosts %v, errors %q", b.hosts, b.errs)
}

// The agent under test is built once (testkit.AgentBinary) and removed at
// the end.
func TestMain(m *testing.M) { testkit.Main(m) }
