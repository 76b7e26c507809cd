// Package web is the agent's own web page: connections, devices, the live
// uplink flow and the gateway's sources, for a technician on the gateway's
// LAN with nothing but a browser. It is three small static files embedded
// in the binary; everything it shows comes from the local API, the same
// one the command line uses, so the two never disagree.
//
// The page makes no request to any other host (gateways are often offline):
// no CDN, no web fonts, and a Content-Security-Policy that says so to the
// browser too.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed static
var static embed.FS

// asset is one file, prepared once: the bytes, their gzip form and a hash
// for ETag and cache busting.
type asset struct {
	body, gz    []byte
	contentType string
	hash        string
}

// Files are the names the page is made of, as served under "/".
var Files = []string{"index.html", "app.css", "app.js", "charts.js"}

// assets are prepared on the first request, not at start: most agents
// never serve the page, and a MIPS gateway need not gzip it at every boot.
var assets = sync.OnceValue(load)

func load() map[string]*asset {
	m := map[string]*asset{}
	for _, name := range Files {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			panic("web: " + err.Error()) // a build without its files is a broken build
		}
		m[name] = &asset{body: b, contentType: contentType(name)}
	}
	// The page names its assets with their hash (app.js?v=…), so a browser
	// may keep them for a year and still never run an old script after an
	// upgrade; index.html itself is always revalidated.
	for _, name := range Files[1:] {
		m[name].hash = hashOf(m[name].body)
	}
	idx := m["index.html"]
	for _, name := range Files[1:] {
		idx.body = bytes.ReplaceAll(idx.body, []byte(`"`+name+`"`), []byte(`"`+name+"?v="+m[name].hash+`"`))
	}
	idx.hash = hashOf(idx.body)
	for _, a := range m {
		a.gz = gzipped(a.body)
	}
	return m
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:6])
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "text/javascript; charset=utf-8"
	}
}

// csp tells the browser what the page promises: scripts, styles and
// requests only to the agent itself, nothing inline, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the page at "/" and its assets beside it. Mount it as
// the catch-all of the local API's mux; any other path is a 404, since
// the page routes with the URL's fragment (#/connections, #/live, …) and
// never needs the server to answer for a deep link.
//
// The page and its assets hold no secret, so they are served without the
// API token: the page asks for the token itself when the API answers 401.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	a, ok := assets()[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Vary", "Accept-Encoding")
	etag := `"` + a.hash + `"`
	h.Set("ETag", etag)
	if name != "index.html" && r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// acceptsGzip reads Accept-Encoding well enough for browsers, which all
// send "gzip" and never "gzip;q=0".
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}
