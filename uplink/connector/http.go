package connector

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgeflow/uplink"
)

// HTTPConfig configures an actility-http-iot connection.
type HTTPConfig struct {
	URL string
	// Headers are sent with every request; values may hold patterns
	// ({DevEUI}, {FPort}, …; see ParsePattern), expanded per uplink.
	// They often carry credentials: never log them.
	Headers map[string]string
	// Timeout bounds the wait for each answer (dial and handshakes
	// included); a gateway's backhaul can be slow but a stuck request
	// must not hold the lane forever. It is delivery.timeout.
	Timeout time.Duration
	// CustomerID is the DevEUI_uplink CustomerID.
	CustomerID string
	// RootCAs verifies the endpoint; nil means the system roots (with the
	// embedded fallback set registered by the binary). A proxy is always
	// verified against the system roots: caFile names the endpoint's CA.
	RootCAs *x509.CertPool
	// SystemRoots stands for the system roots where they apply (an https
	// proxy, and the endpoint without RootCAs); nil means the system's
	// own. Tests set it: the system's pool cannot be changed in-process.
	SystemRoots *x509.CertPool
	// BeforeTLS, when set, runs before a connection that may verify a
	// server against the system's roots is dialled (the binary gives
	// crypto/x509 its fallback roots then, if the system has none): at
	// the first send, not at the start.
	BeforeTLS func()
	// Proxy overrides HTTPS_PROXY/NO_PROXY for this connection when set.
	Proxy *url.URL
	// UserAgent identifies edgeflow to the endpoint.
	UserAgent string
	// LRC, when set, adds ThingPark's tunnel interface query parameters
	// and Token (Basic HTTP compliance).
	LRC *LRCConfig
	// Now is the clock for the LRC Time parameter; nil means time.Now.
	Now func() time.Time
	// Concurrency is the most requests in flight at once (HTTP/2 streams
	// on one connection, or that many HTTP/1.1 connections), and
	// MaxBatch; <= 0 means DefaultConcurrency.
	Concurrency int
}

// DefaultConcurrency lets an endpoint 200 ms away take 32 / 0.2 s = 160
// uplinks/s, above the 100/s a busy gateway needs, while a local endpoint
// still sees one connection most of the time (a batch is only as large as
// what is waiting).
const DefaultConcurrency = 32

// DefaultTimeout bounds one request when HTTPConfig.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// DefaultHTTPConfig holds the tunings an HTTPConfig field left zero gets;
// delivery.timeout and delivery.concurrency state the same in config's
// table, and a test in agent keeps them equal.
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{Timeout: DefaultTimeout, Concurrency: DefaultConcurrency, UserAgent: "edgeflow"}
}

// HTTP is the actility-http-iot connector: one POST per uplink with the
// DevEUI_uplink document as body, through net/http's Transport
// (keep-alive, HTTP/2 when the endpoint offers it over TLS, proxies from
// the environment or the connection). A batch goes out as concurrent
// requests, started in order; each answer is that uplink's outcome.
type HTTP struct {
	cfg     HTTPConfig
	log     *slog.Logger
	url     *url.URL
	rawURL  string   // the URL without credentials
	bare    *url.URL // parsed
	proxy   *url.URL
	tr      *http.Transport
	fixed   http.Header // headers that do not depend on the uplink
	headers []header    // headers that do (patterns with fields)
	max     int

	// slots are the per-request buffers of a batch, reused from batch to
	// batch: SendBatch is called by one goroutine.
	slots []slot
	one   [1]*uplink.Uplink
	errs1 [1]error
	// deadline bounds each batch by Timeout.
	deadline deadline
}

var _ Batcher = (*HTTP)(nil)

type header struct {
	name  string
	value Pattern
}

type slot struct {
	doc []byte
	val []byte
	// rd reads doc, behind body, an io.NopCloser: net/http writes the
	// headers and a known in-memory body in one write. Both go with sent.
	rd   *bytes.Reader
	body io.ReadCloser
	// getBody is the request's GetBody (net/http's retry of a request
	// none of which was written), made once per slot.
	getBody func() (io.ReadCloser, error)
	// sent is the last request, made for ctx, kept for the next post
	// with the same context (the batch deadline's lasts from batch to
	// batch): WithContext copied a Request per uplink. It is kept, with
	// its body and doc, only after a 2xx answer, when the endpoint has
	// read all of it; after anything else net/http may still be writing
	// it, so the next post makes new ones.
	sent *http.Request
	ctx  context.Context
	// discard bounds the read of an accepted answer's body.
	discard io.LimitedReader
	// req is the slot's request without context, body or per-uplink
	// headers: each post copies it with WithContext instead of building
	// one (NewRequestWithContext parses a URL and makes a header map that
	// the shared ones replace at once).
	req *http.Request
	// In a batch of several, the slot's request starts once the slot
	// before it has written its headers (or failed): started gets one
	// token then (drained before each batch), through trace, whose
	// context is made once per batch context (tctx for tparent), so that
	// sent stays reusable from batch to batch as for a single post.
	started chan struct{}
	armed   atomic.Bool // a request of a batch that has not signalled yet
	// kick runs the slot's request of a batch (job) on the slot's worker
	// goroutine, started at the slot's first batch and ended by Close:
	// a goroutine per request grew its stack for net/http from 2 KiB at
	// every batch (copystack: 10,000 of an uplink's 154,000 guest
	// instructions on armv7 at 10/s).
	kick    chan struct{}
	job     job
	trace   *httptrace.ClientTrace
	tparent context.Context
	tctx    context.Context
}

// job is a slot's part of a batch: its uplink, where its outcome goes,
// the slot it starts after (nil: the first) and the batch's wait group.
type job struct {
	ctx  context.Context
	u    *uplink.Uplink
	late bool
	err  *error
	wait chan struct{}
	wg   *sync.WaitGroup
}

// work runs the slot's batch jobs until kick is closed.
func (h *HTTP) work(s *slot) {
	for range s.kick {
		j := s.job
		if j.wait != nil {
			select {
			case <-j.wait:
			case <-j.ctx.Done():
			}
		}
		*j.err = h.post(j.ctx, s, j.u, j.late, true)
		s.job = job{}
		j.wg.Done()
	}
}

// signal tells the next slot of the batch that this one's request has
// written its headers or failed, once per request: the second of the
// two, and a callback of an earlier request net/http was still writing
// when its post returned, signal nothing.
func (s *slot) signal() {
	if !s.armed.CompareAndSwap(true, false) {
		return
	}
	select {
	case s.started <- struct{}{}:
	default:
	}
}

// traced is ctx with the slot's trace, made once per ctx.
func (s *slot) traced(ctx context.Context) context.Context {
	if s.tparent != ctx {
		s.tparent, s.tctx = ctx, httptrace.WithClientTrace(ctx, s.trace)
	}
	return s.tctx
}

const (
	dialTimeout  = 10 * time.Second
	tcpKeepAlive = 30 * time.Second
	// maxIdle: servers close kept-alive connections after a while (nginx
	// 75 s, Apache 5 s…); past a minute a connection is more likely dead
	// than alive.
	maxIdle = 60 * time.Second
	// maxBodyLen is how much of an answer's body is read so that its
	// connection can be reused; maxMsgLen what is kept for the message.
	maxBodyLen = 64 << 10
	maxMsgLen  = 2 << 10
)

// NewHTTP builds an HTTP connector. Nothing is dialled until the first send.
func NewHTTP(cfg HTTPConfig, log *slog.Logger) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("destination URL %q: must be an http:// or https:// URL", redactURL(cfg.URL))
	}
	if strings.ContainsAny(u.RequestURI(), " \t") {
		return nil, errors.New("destination URL: the path or query holds a space")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "edgeflow"
	}
	if !validFieldValue(cfg.UserAgent) {
		return nil, errors.New("user agent: control characters are not allowed")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LRC != nil && cfg.LRC.Key != "" {
		if err := CheckTIAK(cfg.LRC.Key); err != nil {
			return nil, fmt.Errorf("tunnelInterfaceAuthenticationKey: %w", err)
		}
	}
	h := &HTTP{cfg: cfg, log: log, max: cfg.Concurrency, fixed: http.Header{}, slots: make([]slot, cfg.Concurrency)}
	h.url = u
	bare := *u
	bare.User = nil
	h.rawURL = bare.String()
	h.bare = &bare
	// The proxy is decided once: the environment does not change under a
	// running agent, and the TLS dial below must know it.
	h.proxy = cfg.Proxy
	if h.proxy == nil {
		if h.proxy, err = http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil {
			return nil, fmt.Errorf("proxy from the environment: %w", err)
		}
	}
	if h.proxy != nil && h.proxy.Scheme != "http" && h.proxy.Scheme != "https" && h.proxy.Scheme != "socks5" && h.proxy.Scheme != "socks5h" {
		return nil, fmt.Errorf("proxy scheme %q is not supported (http, https or socks5)", h.proxy.Scheme)
	}
	set := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(cfg.Headers)) {
		v := cfg.Headers[k]
		name := http.CanonicalHeaderKey(k)
		// The value may be a secret: errors name the header, never its value.
		if !isToken(k) {
			return nil, fmt.Errorf("header %q: not a valid header name", k)
		}
		if !validFieldValue(v) {
			return nil, fmt.Errorf("header %s: the value holds control characters (CR, LF…)", name)
		}
		p, err := ParsePattern(v)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		switch name {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer", "Te", "Connection", "Keep-Alive",
			"Upgrade", "Proxy-Connection", "Proxy-Authorization":
			// The transport frames requests and manages connections.
			log.Warn("ignoring a header that the HTTP client sets itself", "header", name)
			continue
		}
		set[name] = true
		if p.HasFields() {
			h.headers = append(h.headers, header{name: name, value: p})
		} else {
			h.fixed[name] = []string{v}
		}
	}
	if !set["User-Agent"] {
		h.fixed["User-Agent"] = []string{cfg.UserAgent}
	}
	if !set["Content-Type"] {
		h.fixed["Content-Type"] = []string{"application/json"}
	}
	if !set["Accept"] {
		h.fixed["Accept"] = []string{"*/*"}
	}
	if u.User != nil && !set["Authorization"] {
		// Credentials in the URL, as http.Client sends them.
		pw, _ := u.User.Password()
		h.fixed["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))}
	}
	for i := range h.slots {
		s := &h.slots[i]
		s.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(s.doc)), nil }
		s.started = make(chan struct{}, 1)
		s.trace = &httptrace.ClientTrace{WroteHeaders: s.signal}
		req, err := http.NewRequest(http.MethodPost, "", nil)
		if err != nil {
			return nil, err
		}
		req.URL, req.Host, req.Header = h.bare, h.bare.Host, h.fixed
		s.req = req
	}
	h.tr = h.transport()
	return h, nil
}

// transport is net/http's Transport for this endpoint: up to Concurrency
// connections (HTTP/1.1) or streams (HTTP/2, offered by ALPN first).
func (h *HTTP) transport() *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}
	tlsAhead := h.url.Scheme == "https" || h.proxy != nil && h.proxy.Scheme == "https"
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if tlsAhead && h.cfg.BeforeTLS != nil {
			h.cfg.BeforeTLS()
		}
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Socket reads and writes without waking the runtime's monitor
		// thread (rawconn_linux.go): at 10 uplinks/s that halves the
		// agent's CPU per uplink.
		return NewRawTCP(nc), nil
	}
	t := &http.Transport{
		DialContext:         dial,
		TLSHandshakeTimeout: dialTimeout,
		// HTTP/2 is offered over TLS (ALPN); a plain http:// endpoint
		// never speaks it, so it is not set up for one.
		ForceAttemptHTTP2:   h.url.Scheme == "https",
		MaxConnsPerHost:     h.max,
		MaxIdleConnsPerHost: h.max,
		MaxIdleConns:        h.max,
		IdleConnTimeout:     maxIdle,
		// Answers are a few bytes; gzip would only cost CPU.
		DisableCompression: true,
		TLSClientConfig: &tls.Config{ServerName: h.url.Hostname(), RootCAs: cmp.Or(h.cfg.RootCAs, h.cfg.SystemRoots), MinVersion: tls.VersionTLS12,
			ClientSessionCache: tls.NewLRUClientSessionCache(4)},
	}
	if p := h.proxy; p != nil {
		t.Proxy = http.ProxyURL(p)
		if p.Scheme == "https" {
			// Transport verifies an https proxy with TLSClientConfig,
			// which holds the endpoint's caFile: dial the proxy
			// ourselves, against the system roots. Only the proxy is
			// dialled with TLS here; the endpoint's TLS runs inside the
			// CONNECT tunnel with TLSClientConfig.
			t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				tc := tls.Client(nc, &tls.Config{ServerName: p.Hostname(), RootCAs: h.cfg.SystemRoots, MinVersion: tls.VersionTLS12})
				hctx, cancel := context.WithTimeout(ctx, dialTimeout)
				defer cancel()
				if err := tc.HandshakeContext(hctx); err != nil {
					nc.Close()
					return nil, &proxyTLSError{host: p.Host, err: err}
				}
				return tc, nil
			}
		}
	}
	return t
}

// proxyTLSError is a failed TLS handshake with an https proxy, told apart
// from the endpoint's: caFile does not apply to the proxy.
type proxyTLSError struct {
	host string
	err  error
}

func (e *proxyTLSError) Error() string { return fmt.Sprintf("proxy %s: %v", e.host, e.err) }
func (e *proxyTLSError) Unwrap() error { return e.err }

// MaxBatch is HTTPConfig.Concurrency.
func (h *HTTP) MaxBatch() int { return h.max }

// Send POSTs the uplink's document and classifies the answer: a batch of one.
func (h *HTTP) Send(ctx context.Context, u *uplink.Uplink, late bool) error {
	h.one[0] = u
	h.SendBatch(ctx, h.one[:], late, h.errs1[:])
	err := h.errs1[0]
	h.one[0], h.errs1[0] = nil, nil
	return err
}

// SendBatch sends ups as concurrent requests, started in order, and sets
// errs[i] to the outcome of ups[i]. A request is sent once: net/http
// repeats a POST only when none of it was written (or the HTTP/2 server
// said it did not process it), never after the endpoint may have taken
// it — unless the configured headers hold an Idempotency-Key, which
// tells net/http the endpoint deduplicates.
func (h *HTTP) SendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	for len(ups) > h.max {
		h.sendBatch(ctx, ups[:h.max], late, errs[:h.max])
		ups, errs = ups[h.max:], errs[h.max:]
	}
	h.sendBatch(ctx, ups, late, errs)
}

func (h *HTTP) sendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	// One deadline for the batch: its requests run at the same time, so
	// each still has delivery.timeout for its answer.
	ctx = h.deadline.start(ctx, h.cfg.Timeout)
	defer h.deadline.stop()
	if len(ups) == 1 {
		errs[0] = h.post(ctx, &h.slots[0], ups[0], late, false)
		return
	}
	h.sendConcurrent(ctx, ups, late, errs)
}

// sendConcurrent is sendBatch's several requests. (Its own function: the
// goroutines' closures would move the single request's context to the
// heap too.)
func (h *HTTP) sendConcurrent(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	// Dispatch in order: each request starts once the one before it has
	// written its headers (or failed), so that the endpoint sees them in
	// FIFO order even on separate connections; answers may interleave.
	var wg sync.WaitGroup
	for i := range ups {
		select {
		case <-h.slots[i].started: // a token the last batch left
		default:
		}
	}
	wg.Add(len(ups))
	for i, u := range ups {
		s := &h.slots[i]
		var wait chan struct{}
		if i > 0 {
			wait = h.slots[i-1].started
		}
		s.job = job{ctx: ctx, u: u, late: late, err: &errs[i], wait: wait, wg: &wg}
		if s.kick == nil {
			s.kick = make(chan struct{})
			go h.work(s)
		}
		s.kick <- struct{}{}
	}
	wg.Wait()
}

// post sends one uplink and reads its answer; in a batch (inBatch) it
// signals the slot once the request's headers are written or it failed.
func (h *HTTP) post(ctx context.Context, s *slot, u *uplink.Uplink, late bool, inBatch bool) error {
	if inBatch {
		s.armed.Store(true)
		defer s.signal()
		ctx = s.traced(ctx)
	}
	s.doc = uplink.AppendDocument(s.doc[:0], u, late, uplink.DocOptions{CustomerID: h.cfg.CustomerID})
	// The URL and, without per-uplink headers, the header map are shared
	// by every request: the Transport only reads them, and parsing and
	// copying them per uplink is a measurable share of a request's CPU on
	// an ARM gateway.
	req := s.sent
	if req == nil || s.ctx != ctx {
		req = s.req.WithContext(ctx)
		s.sent, s.ctx = req, ctx
		s.rd = new(bytes.Reader)
		s.body = io.NopCloser(s.rd)
	}
	req.URL, req.Header = h.bare, h.fixed // LRC and per-uplink headers replace them
	var err error
	s.rd.Reset(s.doc)
	req.Body, req.GetBody, req.ContentLength = s.body, s.getBody, int64(len(s.doc))
	if h.cfg.LRC != nil {
		if req.URL, err = url.Parse(withQuery(h.rawURL, lrcQuery(*h.cfg.LRC, h.cfg.CustomerID, u, h.cfg.Now()))); err != nil {
			return &Error{Kind: Reject, Reason: "bad_request", Err: err}
		}
	}
	if len(h.headers) > 0 {
		req.Header = make(http.Header, len(h.fixed)+len(h.headers))
		maps.Copy(req.Header, h.fixed)
	}
	for _, hd := range h.headers {
		// Expanded fields are hex and digits; the filter is a guard,
		// not a path that a valid configuration takes.
		s.val = hd.value.Append(s.val[:0], u)
		s.val = s.val[:keepFieldValue(s.val)]
		req.Header[hd.name] = []string{string(s.val)}
	}
	resp, err := h.tr.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		s.sent, s.ctx, s.doc = nil, nil, nil
	}
	if err != nil {
		return h.netError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Accepted, whatever happens to the rest of the body: an error
		// reading it (a close-delimited body cut by a reset) must not
		// make the uplink go again. Reading it lets the connection be
		// reused. (Without a body, Body is http.NoBody.)
		if resp.ContentLength != 0 {
			s.discard = io.LimitedReader{R: resp.Body, N: maxBodyLen}
			_, _ = io.Copy(io.Discard, &s.discard)
			s.discard.R = nil
		}
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxMsgLen))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyLen))
	return classify(resp.StatusCode, resp.Status, resp.Header.Get("Retry-After"), resp.Header.Get("Location"),
		resp.Header.Get("Content-Type"), msg, time.Now())
}

// netError is a failed request in words a technician can act on.
func (h *HTTP) netError(ctx context.Context, err error) error {
	e := &Error{Kind: Retry, Reason: netReason(err), Err: err}
	switch {
	case timedOutCtx(ctx) || e.Reason == "timeout":
		e.Reason = "timeout"
		e.Err = fmt.Errorf("no answer within delivery.timeout (%s)", secs(h.cfg.Timeout))
	case errors.Is(ctx.Err(), context.Canceled):
		e.Reason = "canceled"
		e.Err = context.Cause(ctx)
	case h.cfg.RootCAs != nil && endpointUnknownAuthority(err):
		e.Err = fmt.Errorf("TLS: the endpoint's certificate is not signed by the CA in caFile (%w)", err)
	default:
		e.Err = describe(err, h.url.Host)
	}
	return e
}

// endpointUnknownAuthority: the endpoint's certificate (not a proxy's) has
// no chain to the roots it was verified against.
func endpointUnknownAuthority(err error) bool {
	var pe *proxyTLSError
	var ue x509.UnknownAuthorityError
	return !errors.As(err, &pe) && errors.As(err, &ue)
}

// Close releases idle connections.
func (h *HTTP) Close() {
	h.deadline.close()
	h.tr.CloseIdleConnections()
	for i := range h.slots {
		if s := &h.slots[i]; s.kick != nil {
			close(s.kick) // its worker is idle: batches are over
			s.kick = nil
		}
	}
}

// secs writes a timeout as the configuration does: "15 s".
func secs(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return d.String()
}

// validFieldValue tells whether s may be a header value (RFC 9110 §5.5):
// no control characters but tab.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// keepFieldValue is how much of v is a valid header value (up to the
// first control character).
func keepFieldValue(v []byte) int {
	for i, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return i
		}
	}
	return len(v)
}

// isToken tells whether s is an RFC 9110 token (a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
