package connector

import (
	"bufio"
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
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// Timeout bounds the wait for each answer (and a dial with its
	// handshakes); a gateway's backhaul can be slow but a stuck request
	// must not hold the lane forever.
	Timeout time.Duration
	// CustomerID is the DevEUI_uplink CustomerID.
	CustomerID string
	// RootCAs verifies the endpoint; nil means the system roots (with the
	// embedded fallback set registered by the binary).
	RootCAs *x509.CertPool
	// Proxy overrides HTTPS_PROXY/NO_PROXY for this connection when set.
	Proxy *url.URL
	// UserAgent identifies edgeflow to the endpoint.
	UserAgent string
	// LRC, when set, adds ThingPark's tunnel interface query parameters
	// and Token (Basic HTTP compliance).
	LRC *LRCConfig
	// Now is the clock for the LRC Time parameter; nil means time.Now.
	Now func() time.Time
	// Pipeline is the most requests written before their answers are
	// read (HTTP/1.1 pipelining), and MaxBatch; <= 0 means 16, 1 turns
	// pipelining off.
	Pipeline int
}

// HTTP is the actility-http-iot connector: one POST per uplink with the
// DevEUI_uplink document as body, pipelined on one persistent HTTP/1.1
// connection that the connector drives itself. net/http's client costs a
// reader and a writer goroutine per connection and a write, a read and
// goroutine hand-offs per request; here a batch is one write and a few
// reads from the sending goroutine, with buffers reused from batch to
// batch.
type HTTP struct {
	cfg      HTTPConfig
	log      *slog.Logger
	url      *url.URL
	tls      *tls.Config // nil for an http:// endpoint
	addr     string      // host:port of the endpoint
	host     string      // the Host header
	origin   string      // "http://host" before the target in absolute form
	target   string      // path?query
	fixed    []byte      // header lines that do not depend on the uplink
	headers  []header    // header lines that do (patterns with fields)
	pipeline int
	window   int // requests written at once, ≤ pipeline; 1 for an endpoint that closes after each

	// mu guards conn against a concurrent Close; the sending goroutine
	// owns everything below it.
	mu   sync.Mutex
	conn *wireConn

	br     *bufio.Reader
	resp   response
	wbuf   []byte
	doc    []byte
	one    [1]*uplink.Uplink
	oneErr [1]error
}

var _ Batcher = (*HTTP)(nil)

type header struct {
	name  string
	value Pattern
}

// NewHTTP builds an HTTP connector. Nothing is dialled until the first send.
func NewHTTP(cfg HTTPConfig, log *slog.Logger) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("destination URL %q: must be an http:// or https:// URL", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Pipeline <= 0 {
		cfg.Pipeline = 16
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
	target := u.RequestURI()
	if strings.ContainsAny(target, " \t") {
		return nil, errors.New("destination URL: the path or query holds a space")
	}
	h := &HTTP{cfg: cfg, log: log, url: u, addr: hostPort(u), host: u.Host, origin: u.Scheme + "://" + u.Host,
		target: target, pipeline: cfg.Pipeline, window: cfg.Pipeline, br: bufio.NewReaderSize(nil, 4<<10)}
	if u.Scheme == "https" {
		// ALPN offers http/1.1 only: HTTP/2 is not spoken (see dial).
		h.tls = &tls.Config{ServerName: u.Hostname(), RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"}, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	}
	names := slices.Sorted(maps.Keys(cfg.Headers))
	set := map[string]bool{}
	for _, k := range names {
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
			// The connector frames its requests and manages its
			// connection; net/http ignored these too.
			log.Warn("ignoring a header that the HTTP client sets itself", "header", name)
			continue
		}
		set[name] = true
		if p.HasFields() {
			h.headers = append(h.headers, header{name: name, value: p})
		} else {
			h.fixed = appendHeader(h.fixed, name, []byte(v))
		}
	}
	// Defaults come after the configured headers, which override them.
	if !set["User-Agent"] {
		h.fixed = appendHeader(h.fixed, "User-Agent", []byte(cfg.UserAgent))
	}
	if !set["Content-Type"] {
		h.fixed = appendHeader(h.fixed, "Content-Type", []byte("application/json"))
	}
	if !set["Accept"] {
		h.fixed = appendHeader(h.fixed, "Accept", []byte("*/*"))
	}
	if u.User != nil && !set["Authorization"] {
		// Credentials in the URL, as net/http sent them.
		pw, _ := u.User.Password()
		h.fixed = appendHeader(h.fixed, "Authorization",
			[]byte("Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))))
	}
	return h, nil
}

func appendHeader(b []byte, name string, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = appendFieldValue(b, value)
	return append(b, "\r\n"...)
}

// MaxBatch is HTTPConfig.Pipeline.
func (h *HTTP) MaxBatch() int { return h.pipeline }

// Send POSTs the uplink's document and classifies the answer: a batch of one.
func (h *HTTP) Send(ctx context.Context, u *uplink.Uplink, late bool) error {
	h.one[0] = u
	h.SendBatch(ctx, h.one[:], late, h.oneErr[:])
	err := h.oneErr[0]
	h.one[0], h.oneErr[0] = nil, nil
	return err
}

// SendBatch writes the requests of ups in one write, then reads the
// answers in order. Answers after a "Connection: close" were not
// processed, so they are sent again on a new connection; so are all of
// them, once, when a kept-alive connection turns out to have been closed
// by the server while idle. Any other failure fails the unanswered ones
// with Retry errors and drops the connection.
func (h *HTTP) SendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	for len(ups) > h.pipeline {
		h.sendBatch(ctx, ups[:h.pipeline], late, errs[:h.pipeline])
		ups, errs = ups[h.pipeline:], errs[h.pipeline:]
	}
	h.sendBatch(ctx, ups, late, errs)
}

func (h *HTTP) sendBatch(ctx context.Context, ups []*uplink.Uplink, late bool, errs []error) {
	clear(errs)
	resent := false
	for len(ups) > 0 {
		wc, err := h.connection(ctx)
		if err != nil {
			h.fail(ctx, errs, err)
			return
		}
		var stop func() bool
		if ctx.Done() != nil {
			nc := wc.nc
			stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo()) })
		}
		m := min(len(ups), h.window)
		n, keep, silent, err := h.exchange(ctx, wc, ups[:m], late, errs[:m])
		if stop != nil && !stop() {
			keep = false // the callback ran: this connection's deadline is spoiled
		}
		switch {
		case keep:
			h.window = min(2*h.window, h.pipeline)
		case err == nil && n == 1 && !wc.reused:
			// The endpoint closes after each answer (HTTP/1.0, or
			// keep-alive off): writing more requests than it will
			// answer only makes it drop them and us send them again.
			h.window = 1
		}
		ups, errs = ups[n:], errs[n:]
		if keep {
			wc.reused, wc.lastUsed = true, time.Now()
			continue
		}
		idleRace := silent && n == 0 && wc.reused && !resent && ctx.Err() == nil && connGone(err)
		h.drop(wc)
		switch {
		case err == nil:
			// The server closed the connection after answer n-1: those
			// after it were not processed, send them on a new one.
		case idleRace:
			resent = true
			h.log.Debug("kept-alive connection was closed by the endpoint; sending again", "requests", len(ups))
		default:
			h.fail(ctx, errs, err)
			return
		}
	}
	if cap(h.wbuf) > 1<<20 {
		h.wbuf = nil // do not keep what one huge batch needed
	}
}

// exchange writes the requests for ups and reads their answers into errs.
// It returns how many were answered and whether the connection can carry
// more; when fewer than len(ups) were answered, err says why (nil: the
// server closed the connection), and silent that nothing of the first
// unanswered one arrived.
func (h *HTTP) exchange(ctx context.Context, wc *wireConn, ups []*uplink.Uplink, late bool, errs []error) (n int, keep, silent bool, err error) {
	b := h.wbuf[:0]
	for _, u := range ups {
		b = h.appendRequest(b, wc, u, late)
	}
	h.wbuf = b
	// Each answer gets cfg.Timeout from the previous one (or the write):
	// a pipelined batch waits for the endpoint's work on every request,
	// as sequential requests each had their own timeout.
	if err := h.deadline(ctx, wc); err != nil {
		return 0, false, false, err
	}
	// A failed write may still have delivered some requests: read what
	// the server answered before it closed.
	_, werr := wc.nc.Write(b)
	gathered := false
	for i := range ups {
		if i > 0 {
			if err := h.deadline(ctx, wc); err != nil {
				return i, false, false, err
			}
			if h.br.Buffered() == 0 && !gathered && len(ups)-i > 2 {
				// The first answers are in and more are coming, one
				// segment each from most servers: let them gather once
				// rather than wake for each (a wakeup costs more than
				// the answer; 1 ms is the netpoller's resolution).
				gathered = true
				time.Sleep(answerGather)
			}
		}
		if _, err := h.br.Peek(1); err != nil {
			return i, false, true, cmp.Or(werr, err)
		}
		if err := readResponse(h.br, &h.resp, false); err != nil {
			return i, false, false, err
		}
		errs[i] = h.resp.outcome()
		if h.resp.close {
			return i + 1, false, false, nil
		}
	}
	return len(ups), werr == nil, false, nil
}

// answerGather is how long a batch waits, once, for the rest of its answers.
const answerGather = time.Millisecond

func (h *HTTP) deadline(ctx context.Context, wc *wireConn) error {
	_ = wc.nc.SetDeadline(time.Now().Add(h.cfg.Timeout))
	// ctx is done before its AfterFunc runs: checking after setting the
	// deadline cannot miss a cancellation whose callback we overrode.
	if ctx.Err() != nil {
		return ctxError(ctx, nil)
	}
	return nil
}

// appendRequest appends the request for u.
func (h *HTTP) appendRequest(b []byte, wc *wireConn, u *uplink.Uplink, late bool) []byte {
	h.doc = uplink.AppendDocument(h.doc[:0], u, late, uplink.DocOptions{CustomerID: h.cfg.CustomerID})
	origin, target := "", h.target
	if wc.absForm {
		origin = h.origin
	}
	if h.cfg.LRC != nil {
		target = withQuery(target, lrcQuery(*h.cfg.LRC, h.cfg.CustomerID, u, h.cfg.Now()))
	}
	b = appendRequestHead(b, origin, target, h.host)
	b = append(b, h.fixed...)
	if wc.proxyAuth != "" {
		b = appendHeader(b, "Proxy-Authorization", []byte(wc.proxyAuth))
	}
	for _, hd := range h.headers {
		b = append(b, hd.name...)
		b = append(b, ": "...)
		// Expanded fields are hex and digits; the filter is a guard,
		// not a path that a valid configuration takes.
		start := len(b)
		b = hd.value.Append(b, u)
		b = b[:start+keepFieldValue(b[start:])]
		b = append(b, "\r\n"...)
	}
	b = appendContentLength(b, len(h.doc))
	return append(b, h.doc...)
}

// connection returns the kept-alive connection, or a new one when there is
// none or it has been idle long enough for the server to have dropped it.
func (h *HTTP) connection(ctx context.Context) (*wireConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx, nil)
	}
	h.mu.Lock()
	wc := h.conn
	h.mu.Unlock()
	if wc != nil && time.Since(wc.lastUsed) <= maxIdle {
		return wc, nil
	}
	if wc != nil {
		h.drop(wc)
	}
	wc, err := h.dial(ctx, time.Now().Add(h.cfg.Timeout))
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.conn = wc
	h.mu.Unlock()
	return wc, nil
}

// drop closes wc and forgets it.
func (h *HTTP) drop(wc *wireConn) {
	h.mu.Lock()
	if h.conn == wc {
		h.conn = nil
	}
	h.mu.Unlock()
	_ = wc.nc.Close()
}

// fail sets the Retry error of a network failure on every uplink in errs.
func (h *HTTP) fail(ctx context.Context, errs []error, err error) {
	if ctx.Err() != nil {
		err = ctxError(ctx, err)
	}
	e := &Error{Kind: Retry, Reason: netReason(err), Err: err}
	if _, ok := err.(protoError); ok {
		e.Reason = "bad_response"
	}
	for i := range errs {
		errs[i] = e
	}
}

// connGone tells whether err is the server having closed the connection.
func connGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Close closes the connection; a later send dials a new one.
func (h *HTTP) Close() {
	h.mu.Lock()
	wc := h.conn
	h.conn = nil
	h.mu.Unlock()
	if wc != nil {
		_ = wc.nc.Close()
	}
}

// outcome classifies the response; strings are made only for failures.
func (r *response) outcome() error {
	if r.code >= 200 && r.code < 300 {
		return nil
	}
	return classify(r.code, string(r.status), string(r.retryAfter), string(r.location), r.msg)
}

// classify turns a non-2xx answer into an Error. Redirects are not
// followed: a POST would turn into a GET, and the configured URL is
// what the user must fix.
func classify(code int, status, retryAfter, location string, msg []byte) error {
	if code >= 200 && code < 300 {
		return nil
	}
	e := &Error{Status: code, Reason: "http_" + strconv.Itoa(code), Err: errors.New(bodyText(status, msg))}
	switch {
	case code >= 300 && code < 400:
		e.Kind, e.Reason = Retry, "http_30x"
		e.Err = fmt.Errorf("endpoint redirects to %s; set destinationURL to the final URL", redactURL(location))
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		e.Kind = Retry
		e.RetryAfter = parseRetryAfter(retryAfter, time.Now())
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		e.Kind = Unauthorized
	default:
		e.Kind = Reject
	}
	return e
}

// redactURL keeps a Location fit for a log: no query (it may carry a
// Token or a key), bounded length.
func redactURL(s string) string {
	if s == "" {
		return "(no Location)"
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?…"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func bodyText(status string, msg []byte) string {
	s := strings.TrimSpace(string(msg))
	if s == "" {
		return status
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return status + ": " + s
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func netReason(err error) string {
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	// crypto/x509 returns its errors as values, wrapped by crypto/tls.
	var ve *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	if errors.As(err, &ve) || errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
		return "tls_certificate"
	}
	return "network"
}
