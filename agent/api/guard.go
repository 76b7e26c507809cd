package api

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The API changes where decrypted uplinks go, and it is reached with a
// browser: from the gateway itself, or through `ssh -L`. A web page on
// any other site may send that browser's requests to it, so guard refuses:
//   - a Host that is not one of the agent's own names (DNS rebinding: a
//     name the attacker controls that now resolves to 127.0.0.1);
//   - a change sent from another origin (Origin, Sec-Fetch-Site), or with
//     a body that is not application/json: an HTML form or a no-cors fetch
//     can send text/plain anywhere without asking, never application/json.

// guard wraps the whole API.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && !s.hostAllowed(r.Host) {
			s.hostLog.log(s, "local API refused a request for another host name (DNS rebinding?)", r)
			writeError(w, &apiError{code: http.StatusMisdirectedRequest,
				Message: "this agent does not answer to the host name " + quote(r.Host) + "; use 127.0.0.1 or localhost, or list the name in api.hosts"})
			return
		}
		if isWrite(r.Method) {
			if msg := crossSite(r); msg != "" {
				s.siteLog.log(s, "local API refused a change sent from another web site", r)
				writeError(w, &apiError{code: http.StatusForbidden, Message: msg})
				return
			}
			if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
				if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
					writeError(w, &apiError{code: http.StatusUnsupportedMediaType,
						Message: "a change needs \"Content-Type: application/json\" (an empty body is {})"})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// crossSite explains why a change comes from another site, or returns "".
// Browsers send Sec-Fetch-Site (all current ones) and Origin on every
// POST, PUT and DELETE; curl and the command line send neither.
func crossSite(r *http.Request) string {
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" && sfs != "none" {
		return "a change must come from the agent's own page or from a program, not from another web site (Sec-Fetch-Site: " + sfs + ")"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return "a change must come from the agent's own page, not from " + quote(origin)
	}
	return ""
}

// hostAllowed tells whether a request's Host names this agent: a loopback
// name or address, the bind address, any IP address when bound to every
// interface, or a name in api.hosts. An IP address cannot be rebound (a
// page's origin is then the address itself); a name can.
func (s *Server) hostAllowed(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // browsers resolve these to loopback themselves
	}
	for _, h := range s.opts.Hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	bindHost, _, _ := net.SplitHostPort(s.opts.Bind)
	if strings.EqualFold(bindHost, host) {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	if ta, ok := s.addr.(*net.TCPAddr); ok {
		return ta.IP.IsUnspecified() || ta.IP.Equal(ip)
	}
	return false
}

// quote puts a client-sent value, clipped and cleaned, in quotes for an
// answer's message.
func quote(s string) string { return "\"" + clip(s) + "\"" }

// clip shortens a client-sent value to 80 bytes and replaces control
// characters and quotes; slog quotes it again in a log line.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == '"' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// rateLog logs one kind of refusal at most once per interval, with the
// number it kept quiet about: a page or a script that keeps trying must
// not fill the gateway's flash with log lines.
type rateLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const refusalLogInterval = 10 * time.Second

func (l *rateLog) log(s *Server, msg string, r *http.Request) {
	now := s.opts.Now()
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < refusalLogInterval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	s.log.Warn(msg, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "host", clip(r.Host),
		"origin", clip(r.Header.Get("Origin")), "suppressed", n)
}
