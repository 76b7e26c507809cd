package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The page must stay small: gateways serve it over slow links to phones.
// The budget is for the files as embedded, before gzip.
const sizeBudget = 100 << 10

func TestSizeBudget(t *testing.T) {
	var raw, gz int
	for _, name := range Files {
		raw += len(assets()[name].body)
		gz += len(assets()[name].gz)
	}
	t.Logf("embedded page: %d bytes, %d gzipped", raw, gz)
	if raw > sizeBudget {
		t.Errorf("embedded page is %d bytes, over its %d budget", raw, sizeBudget)
	}
}

// allowedURLs are absolute URLs the page shows as text and never requests:
// Cayenne's fixed destination, which the create form tells the user, and
// the SVG namespace, a name charts.js gives createElementNS (never fetched).
var allowedURLs = map[string]bool{"https://lora.mydevices.com/v1/networks/actility/uplink": true, "http://www.w3.org/2000/svg": true}

// TestNoOtherHost guards the promise that the page works offline and
// leaks nothing: no absolute or protocol-relative URL in any file but the
// one shown as text, and no CSS import or url() that could fetch one.
func TestNoOtherHost(t *testing.T) {
	abs := regexp.MustCompile(`(?i)\b(?:https?|wss?|ftp):\/\/[a-z0-9\[][^\s"'<>` + "`" + `)]*`)
	rel := regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']?\s*//`)
	cssURL := regexp.MustCompile(`url\(\s*['"]?[^'")\s]`)
	for _, name := range Files {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range abs.FindAll(b, -1) {
			if !allowedURLs[string(u)] {
				t.Errorf("%s names another host: %s", name, u)
			}
		}
		if m := rel.Find(b); m != nil {
			t.Errorf("%s has a protocol-relative reference: %s", name, m)
		}
		if name == "app.css" && (bytes.Contains(b, []byte("@import")) || cssURL.Match(b)) {
			t.Errorf("%s loads something (@import or url())", name)
		}
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("the Content-Security-Policy no longer holds the page to its own host: %s", csp)
	}
}

// TestTextOnlyDOM keeps the rule that API data is never parsed as HTML: a
// connection named "<img onerror=…>" must stay a name.
func TestTextOnlyDOM(t *testing.T) {
	for _, js := range []string{"app.js", "charts.js"} {
		b, _ := static.ReadFile("static/" + js)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s uses %s", js, bad)
			}
		}
	}
}

func get(t *testing.T, path string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w.Result()
}

func TestHandler(t *testing.T) {
	res := get(t, "/")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("Content-Security-Policy") != csp {
		t.Errorf("GET / headers: %v", res.Header)
	}
	// The page names its assets by hash, and those are cached for good.
	for _, name := range Files[1:] {
		ref := name + "?v=" + assets()[name].hash
		if !bytes.Contains(body, []byte(`"`+ref+`"`)) {
			t.Errorf("index.html does not reference %s", ref)
		}
		res := get(t, "/"+ref)
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET /%s = %d, Cache-Control %q", ref, res.StatusCode, res.Header.Get("Cache-Control"))
		}
		// Without the right hash it is revalidated, so an old link never pins an old file.
		if cc := get(t, "/"+name+"?v=old").Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET /%s?v=old: Cache-Control %q", name, cc)
		}
	}
	if ct := get(t, "/app.js").Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("app.js Content-Type %q", ct)
	}
	if ct := get(t, "/app.css").Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("app.css Content-Type %q", ct)
	}
}

func TestGzipAndETag(t *testing.T) {
	plain := get(t, "/app.js")
	want, _ := io.ReadAll(plain.Body)
	res := get(t, "/app.js", "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("no gzip: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, want) {
		t.Error("gzipped app.js differs from app.js")
	}
	if get(t, "/app.js", "Accept-Encoding", "gzip;q=0").Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it")
	}
	if code := get(t, "/app.js", "If-None-Match", plain.Header.Get("ETag")).StatusCode; code != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", code)
	}
}

func TestHandlerRefuses(t *testing.T) {
	for _, p := range []string{"/nope", "/static/app.js", "/../web.go", "/connections/x"} {
		if code := get(t, p).StatusCode; code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", w.Code)
	}
}
