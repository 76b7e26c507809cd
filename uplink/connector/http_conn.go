package connector

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

const (
	dialTimeout      = 10 * time.Second
	tcpKeepAlive     = 30 * time.Second
	handshakeTimeout = 10 * time.Second
	// maxIdle: servers close kept-alive connections after a while (nginx
	// 75 s, Apache 5 s…); past a minute a connection is more likely dead
	// than alive, and a redial is cheaper than a failed batch.
	maxIdle = 60 * time.Second
)

// wireConn is the connector's one persistent connection.
type wireConn struct {
	nc net.Conn
	// absForm: an http:// endpoint through a proxy, which takes the
	// absolute URL as request target and the proxy credentials with
	// every request.
	absForm   bool
	proxyAuth string // "Basic …", or ""
	// reused: the connection has carried a batch before, so the server
	// may have closed it while it was idle.
	reused   bool
	lastUsed time.Time
}

// dial connects to the endpoint, through a proxy when one applies, and
// resets h.br onto the connection. HTTP/2 is not offered (ALPN
// "http/1.1" only): edgeflow sends one lane's uplinks in order on one
// connection, which HTTP/1.1 pipelining does with far less code and CPU.
func (h *HTTP) dial(ctx context.Context, deadline time.Time) (*wireConn, error) {
	proxy, err := h.proxy()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	addr := h.addr
	if proxy != nil {
		if proxy.Scheme != "http" && proxy.Scheme != "https" {
			return nil, fmt.Errorf("proxy scheme %q is not supported (http or https only)", proxy.Scheme)
		}
		addr = hostPort(proxy)
	}
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive, Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	nc = newRawTCP(nc)
	// The proxy and TLS handshakes are bounded like the dial, and a
	// cancelled ctx interrupts them.
	_ = nc.SetDeadline(earliest(time.Now().Add(handshakeTimeout), deadline))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo()) })
	wc, err := h.handshake(nc, proxy)
	if !stop() || err != nil {
		nc.Close()
		if err == nil || ctx.Err() != nil {
			err = ctxError(ctx, err)
		}
		return nil, err
	}
	wc.lastUsed = time.Now()
	return wc, nil
}

func (h *HTTP) handshake(nc net.Conn, proxy *url.URL) (*wireConn, error) {
	wc := &wireConn{nc: nc}
	if proxy == nil {
		if h.tls != nil {
			tc := tls.Client(nc, h.tls)
			if err := tc.Handshake(); err != nil {
				return nil, err
			}
			wc.nc = tc
		}
		h.br.Reset(wc.nc)
		return wc, nil
	}
	if proxy.Scheme == "https" {
		tc := tls.Client(nc, h.proxyTLS(proxy))
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("proxy %s: %w", proxy.Host, err)
		}
		nc = tc
	}
	auth := ""
	if proxy.User != nil {
		pw, _ := proxy.User.Password()
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(proxy.User.Username()+":"+pw))
	}
	if h.tls == nil {
		wc.nc, wc.absForm, wc.proxyAuth = nc, true, auth
		h.br.Reset(nc)
		return wc, nil
	}
	if err := h.connect(nc, auth); err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxy.Host, err)
	}
	tc := tls.Client(nc, h.tls)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	wc.nc = tc
	h.br.Reset(tc)
	return wc, nil
}

// connect opens a tunnel to the endpoint with CONNECT.
func (h *HTTP) connect(nc net.Conn, auth string) error {
	b := append(h.wbuf[:0], "CONNECT "...)
	b = append(b, h.addr...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, h.addr...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, h.cfg.UserAgent...)
	if auth != "" {
		b = append(b, "\r\nProxy-Authorization: "...)
		b = append(b, auth...)
	}
	b = append(b, "\r\n\r\n"...)
	h.wbuf = b
	if _, err := nc.Write(b); err != nil {
		return err
	}
	h.br.Reset(nc)
	r := &h.resp
	if err := readResponse(h.br, r, true); err != nil {
		return err
	}
	if r.code/100 != 2 {
		return fmt.Errorf("CONNECT answered %s", bodyText(string(r.status), r.msg))
	}
	if h.br.Buffered() > 0 {
		// The endpoint's TLS speaks first only after our ClientHello.
		return errors.New("CONNECT: data after the proxy's answer")
	}
	return nil
}

// proxy is the proxy for the endpoint: the configured one, else the
// environment's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) for the endpoint URL.
func (h *HTTP) proxy() (*url.URL, error) {
	if h.cfg.Proxy != nil {
		return h.cfg.Proxy, nil
	}
	return http.ProxyFromEnvironment(&http.Request{URL: h.url})
}

func (h *HTTP) proxyTLS(proxy *url.URL) *tls.Config {
	return &tls.Config{ServerName: proxy.Hostname(), RootCAs: h.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// hostPort is u's host with the scheme's default port when it has none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads
// and writes return at once.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }

func earliest(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// ctxError reports a cancelled or expired ctx as the cause of an I/O
// failure it provoked (a deadline in the past).
func ctxError(ctx context.Context, err error) error {
	cerr := context.Cause(ctx)
	if cerr == nil {
		return err
	}
	if err == nil {
		return cerr
	}
	return fmt.Errorf("%w (%v)", cerr, err)
}
