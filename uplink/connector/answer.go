package connector

// What an endpoint answered, or why nothing was answered, in words a
// technician can act on: these land in the status, the web page and
// `edgeflow connections test`.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// classify turns a non-2xx answer into an Error. Redirects are not
// followed: a POST would turn into a GET, and the configured URL is what
// the user must fix.
func classify(code int, status, retryAfter, location, contentType string, msg []byte, now time.Time) error {
	if code >= 200 && code < 300 {
		return nil
	}
	e := &Error{Status: code, Reason: "http_" + strconv.Itoa(code), Err: errors.New(bodyText(status, contentType, msg))}
	switch {
	case code >= 300 && code < 400:
		e.Kind, e.Reason = Retry, "http_30x"
		e.Err = fmt.Errorf("endpoint redirects to %s; set destinationURL to it", redactURL(location))
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		e.Kind = Retry
		e.RetryAfter = parseRetryAfter(retryAfter, now)
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		e.Kind = Unauthorized
	case code == http.StatusNotFound, code == http.StatusRequestEntityTooLarge:
		e.Kind = Refused
	default:
		e.Kind = Reject
	}
	return e
}

// redactURL keeps a URL fit for a log: no query (it may carry a Token or
// a key), no credentials, bounded length.
func redactURL(s string) string {
	if s == "" {
		return "(no Location)"
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?…"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.IndexByte(s[i+3:], '@'); j >= 0 && !strings.Contains(s[i+3:i+3+j], "/") {
			s = s[:i+3] + "…@" + s[i+3+j+1:]
		}
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// bodyText is the status with what the body says: HTML reduced to its
// text, white space (CR, LF) folded, bounded.
func bodyText(status, contentType string, msg []byte) string {
	s := string(msg)
	if strings.Contains(contentType, "html") || looksHTML(s) {
		s = htmlText(s)
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
	if s == "" || s == status {
		return status
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return status + ": " + s
}

func looksHTML(s string) bool {
	t := strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(t, "<!doctype html") || strings.HasPrefix(t, "<html") ||
		strings.Contains(t, "<body") || strings.Contains(t, "</h1>")
}

// htmlText is the text of an HTML page: the title, then the body's text
// without what repeats the title; scripts and styles dropped. A
// hand-rolled scan: the page is an error page of a few hundred bytes,
// and the full parser is megabytes on a MIPS gateway.
func htmlText(s string) string {
	var title, text strings.Builder
	skip := "" // inside <script>, <style> or <head>'s non-title parts
	inTitle := false
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			i = len(s)
		}
		chunk := s[:i]
		switch {
		case inTitle:
			title.WriteString(chunk)
		case skip == "":
			text.WriteString(chunk)
			text.WriteByte(' ')
		}
		s = s[i:]
		if s == "" {
			break
		}
		j := strings.IndexByte(s, '>')
		if j < 0 {
			break
		}
		tag := strings.ToLower(strings.TrimSpace(strings.Trim(s[1:j], "/")))
		closing := strings.HasPrefix(s[1:], "/")
		if k := strings.IndexAny(tag, " \t\r\n"); k >= 0 {
			tag = tag[:k]
		}
		s = s[j+1:]
		switch {
		case tag == "title":
			inTitle = !closing
		case tag == "script" || tag == "style" || tag == "head":
			if closing && skip == tag {
				skip = ""
			} else if !closing && skip == "" {
				skip = tag
			}
		}
	}
	t := strings.Join(strings.Fields(unescape(title.String())), " ")
	b := strings.Join(strings.Fields(unescape(text.String())), " ")
	if t != "" {
		b = strings.TrimSpace(strings.TrimPrefix(b, t))
		if b == "" {
			return t
		}
		return t + " — " + b
	}
	return b
}

func unescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ").Replace(s)
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

// netReason is the metrics label of a network failure.
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
	case closedWithoutAnswer(err):
		return "connection_reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case tlsCertificate(err):
		return "tls_certificate"
	}
	return "network"
}

// closedWithoutAnswer tells whether err is the endpoint having closed or
// reset the connection before its answer.
func closedWithoutAnswer(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// net/http's own words for it (some are not wrapped errors).
	s := err.Error()
	return strings.Contains(s, "server closed idle connection") || strings.Contains(s, "transport connection broken")
}

func tlsCertificate(err error) bool {
	// crypto/x509 returns its errors as values, wrapped by crypto/tls.
	var ve *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	return errors.As(err, &ve) || errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce)
}

// describe says what a network failure means for the connection to host.
func describe(err error, host string) error {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var dnsErr *net.DNSError
	var pe *proxyTLSError
	switch {
	case errors.As(err, &pe) && errors.As(err, &ue):
		return fmt.Errorf("TLS: the proxy's certificate is signed by an authority the gateway's system roots do not trust — caFile verifies the endpoint only; add the proxy's CA to the system's CA bundle (%w)", err)
	case errors.As(err, &pe) && errors.As(err, &he):
		return fmt.Errorf("TLS: the proxy's certificate is not for %s — check the proxy's hostname (%w)", he.Host, err)
	case errors.As(err, &ue):
		return fmt.Errorf("TLS: certificate signed by an unknown authority — set caFile (%w)", err)
	case errors.As(err, &he):
		return fmt.Errorf("TLS: the certificate is not for %s — check destinationURL's host (%w)", he.Host, err)
	case errors.As(err, &ce) && ce.Reason == x509.Expired:
		return fmt.Errorf("TLS: the endpoint's certificate has expired, or the gateway's clock is wrong (%w)", err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot resolve %s: %w", dnsErr.Name, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing accepts connections at %s (connection refused)", host)
	case closedWithoutAnswer(err):
		return fmt.Errorf("endpoint closed the connection without answering (%w)", err)
	case strings.Contains(err.Error(), "no application protocol"):
		return fmt.Errorf("TLS: the endpoint accepts none of the protocols offered (h2, http/1.1) (%w)", err)
	}
	return err
}
