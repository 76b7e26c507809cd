package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"edgeflow/agent/api/web"
)

// Options configure the API server.
type Options struct {
	// Bind is host:port; loopback unless the operator decides otherwise.
	Bind string
	// Token, when set, is required as "Authorization: Bearer TOKEN" for
	// every request but /healthz and the web page's files. It must be set
	// when Bind is not loopback, and be at least MinTokenLength long.
	Token string
	// Hosts are the names, besides loopback ones and Bind's, that a
	// request's Host may give (api.hosts): a name the agent is reached by
	// through a reverse proxy or the LAN's DNS.
	Hosts []string
	// CAFileDir is api.caFileDir: a connection sent to the API may name a
	// caFile only under it; "" refuses caFile.
	CAFileDir string
	Events    *Hub // nil: GET /events answers 404
	Logger    *slog.Logger
	Now       func() time.Time // the clock of rate-limited logs; time.Now when nil
}

// MinTokenLength is the shortest api.token accepted: the token is all
// that stands between the LAN and the gateway's uplinks.
const MinTokenLength = 16

// Server is the running API.
type Server struct {
	b      Backend
	opts   Options
	log    *slog.Logger
	srv    *http.Server
	addr   net.Addr
	public bool // bound beyond loopback

	hostLog, siteLog, tokenLog rateLog
}

// ErrNoToken refuses an API reachable from the network that anyone could
// use to send a gateway's uplinks elsewhere.
var ErrNoToken = errors.New("the API is bound beyond loopback but api.token is empty: anyone on the network could change where uplinks go; set api.token, or bind to 127.0.0.1")

// ErrShortToken refuses a token that can be guessed.
var ErrShortToken = fmt.Errorf("api.token is shorter than %d characters; use a long random one (e.g. openssl rand -hex 16)", MinTokenLength)

// Start binds the API and serves it in the background.
func Start(b Backend, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Token != "" && len(opts.Token) < MinTokenLength {
		return nil, ErrShortToken
	}
	ln, err := net.Listen("tcp", opts.Bind)
	if err != nil {
		return nil, err
	}
	s := &Server{b: b, opts: opts, log: opts.Logger, addr: ln.Addr()}
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		s.public = true
	}
	if s.public && opts.Token == "" {
		ln.Close()
		return nil, ErrNoToken
	}
	// No WriteTimeout: /events streams for as long as the client stays.
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("local API stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close ends the event streams (they never go idle on their own), then shuts
// the server down, waiting for requests in progress until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	if s.opts.Events != nil {
		s.opts.Events.Close()
	}
	return s.srv.Shutdown(ctx)
}

// Handler routes every endpoint; tests and other servers may mount it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Reads and writes need the token alike; writes are told apart by
	// guard (origin and content type).
	read := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.auth(h)) }
	write := read

	// /healthz answers without the token: it tells nothing but "ok" and is
	// what supervisors and load balancers poll.
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	read("GET /metrics", s.handleMetrics)
	read("GET /status", s.handleStatus)
	read("GET /devices", s.handleDevices)
	read("GET /devices/unknown", s.handleUnknown)
	read("GET /events", s.handleEvents)
	read("GET /history", s.handleHistory)

	read("GET /connections", s.handleList)
	write("POST /connections", s.handleCreate)
	read("GET /connections/{id}", s.handleGet)
	write("PUT /connections/{id}", s.handleReplace)
	write("DELETE /connections/{id}", s.handleDelete)
	read("GET /connections/{id}/deadletters", s.handleDeadLetters)
	write("POST /connections/{id}/deadletters/replay", s.handleReplay)

	// The web page, at "/" and beside it. It holds no data and no secret,
	// so it is served without the token even beyond loopback: the page asks
	// for the token when the API answers 401.
	mux.Handle("GET /", web.Handler())
	return s.guard(mux)
}

// auth checks the bearer token when one is set: for changes and for
// reads alike, since reads show uplinks, devices and connections.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token != "" {
			got, ok := bearer(r.Header.Get("Authorization"))
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="edgeflow"`)
				msg := "this request needs the API token: send \"Authorization: Bearer <api.token>\""
				if ok {
					msg = "the API token is wrong"
					s.tokenLog.log(s, "local API request with a wrong token", r)
				}
				writeError(w, &apiError{code: http.StatusUnauthorized, Message: msg})
				return
			}
		}
		h(w, r)
	})
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.b.WriteMetrics(w)
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	st := s.b.Status()
	if st.Gateways == nil {
		st.Gateways = []Gateway{}
	}
	if st.Sources == nil {
		st.Sources = []Source{}
	}
	if st.Connections == nil {
		st.Connections = []ConnectionStatus{}
	}
	if st.Devices == nil {
		st.Devices = []DeviceState{}
	}
	if st.UnknownDevAddrs == nil {
		st.UnknownDevAddrs = []UnknownDevAddr{}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleDevices(w http.ResponseWriter, _ *http.Request) {
	devs := s.b.Devices()
	if devs == nil {
		devs = []DeviceState{}
	}
	writeJSON(w, http.StatusOK, devs)
}

func (s *Server) handleUnknown(w http.ResponseWriter, _ *http.Request) {
	us := s.b.Status().UnknownDevAddrs // the same list, without a Backend method of its own
	if us == nil {
		us = []UnknownDevAddr{}
	}
	writeJSON(w, http.StatusOK, us)
}

// describe names a request in logs without its body.
func describe(r *http.Request) string { return fmt.Sprintf("%s %s", r.Method, r.URL.Path) }
