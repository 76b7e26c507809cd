package connector

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
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
	// Timeout bounds one request; a gateway's backhaul can be slow but a
	// stuck request must not hold the lane forever.
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
}

type header struct {
	name  string
	value Pattern
}

// HTTP is the actility-http-iot connector: one POST per uplink with the
// DevEUI_uplink document as body.
type HTTP struct {
	cfg     HTTPConfig
	headers []header
	client  *http.Client
	log     *slog.Logger
	bufs    sync.Pool
}

// NewHTTP builds an HTTP connector. Requests reuse kept-alive connections.
func NewHTTP(cfg HTTPConfig, log *slog.Logger) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("destination URL %q: must be an http:// or https:// URL", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "edgeflow"
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
	var headers []header
	for k, v := range cfg.Headers {
		p, err := ParsePattern(v)
		if err != nil {
			// The value may be a secret: name the header, not its value.
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		headers = append(headers, header{name: http.CanonicalHeaderKey(k), value: p})
	}
	proxy := http.ProxyFromEnvironment
	if cfg.Proxy != nil {
		proxy = http.ProxyURL(cfg.Proxy)
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
	}
	return &HTTP{cfg: cfg, headers: headers, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}, log: log}, nil
}

// Send POSTs the uplink's document and classifies the answer.
func (h *HTTP) Send(ctx context.Context, u *uplink.Uplink, late bool) error {
	bp, _ := h.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 1024)
		bp = &b
	}
	body := uplink.AppendDocument((*bp)[:0], u, late, uplink.DocOptions{CustomerID: h.cfg.CustomerID})
	defer func() { *bp = body; h.bufs.Put(bp) }()

	dest := h.cfg.URL
	if h.cfg.LRC != nil {
		dest = withQuery(dest, lrcQuery(*h.cfg.LRC, h.cfg.CustomerID, u, h.cfg.Now()))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		return &Error{Kind: Reject, Reason: "bad_request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", h.cfg.UserAgent)
	for _, hd := range h.headers {
		req.Header[hd.name] = []string{hd.value.Expand(u)}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return &Error{Kind: Retry, Reason: netReason(err), Err: err}
	}
	// Drain a little of the body so the connection can be reused.
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return classify(resp, msg)
}

// Close drops idle connections.
func (h *HTTP) Close() { h.client.CloseIdleConnections() }

func classify(resp *http.Response, msg []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	e := &Error{Status: code, Reason: "http_" + strconv.Itoa(code), Err: errors.New(bodyText(resp.Status, msg))}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		e.Kind = Retry
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		e.Kind = Unauthorized
	default:
		e.Kind = Reject
	}
	return e
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
	var ue *x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
		return "tls_certificate"
	}
	return "network"
}
