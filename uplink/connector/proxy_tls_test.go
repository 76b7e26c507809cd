package connector_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/uplink/connector"
)

// testCA signs the certificates of the test's TLS servers.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf is a server certificate for 127.0.0.1 signed by the CA.
func (ca *testCA) leaf(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsEndpoint is an HTTPS endpoint whose certificate the CA signed; it
// counts the uplinks it accepted.
func tlsEndpoint(t *testing.T, ca *testCA, got *atomic.Int32) string {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t)}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

// connectProxy is an https:// proxy (its certificate signed by the CA)
// that tunnels CONNECT requests, as a corporate proxy does; it counts the
// tunnels it opened.
func connectProxy(t *testing.T, ca *testCA, tunnels *atomic.Int32) *url.URL {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		down, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer down.Close()
		tunnels.Add(1)
		_, _ = brw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		_ = brw.Flush()
		go func() { _, _ = io.Copy(up, brw); up.(*net.TCPConn).CloseWrite() }()
		_, _ = io.Copy(down, up)
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t)}}
	s.StartTLS()
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// An endpoint with its own caFile (a private CA), reached through an
// https:// proxy whose certificate a public CA signed: the proxy is
// verified against the system roots and the endpoint against caFile,
// each only against its own. The wrong way round fails, and says which
// side and what to do.
func TestHTTPSProxyAndCAFileEachVerifyTheirOwn(t *testing.T) {
	private := newTestCA(t, "private CA (caFile)")
	public := newTestCA(t, "public CA (system roots)")
	u := testUplink(1)
	send := func(t *testing.T, endpointCA, proxyCA *testCA) (error, int32, int32) {
		var got, tunnels atomic.Int32
		h := newHTTP(t, connector.HTTPConfig{URL: tlsEndpoint(t, endpointCA, &got) + "/uplink",
			Proxy: connectProxy(t, proxyCA, &tunnels), RootCAs: private.pool, SystemRoots: public.pool})
		err := h.Send(context.Background(), &u, false)
		return err, got.Load(), tunnels.Load()
	}

	t.Run("each against its own", func(t *testing.T) {
		err, got, tunnels := send(t, private, public)
		if err != nil {
			t.Fatal(err)
		}
		if got != 1 || tunnels != 1 {
			t.Fatalf("%d uplinks through %d tunnels, want 1 through 1", got, tunnels)
		}
	})
	t.Run("proxy signed by caFile's CA", func(t *testing.T) {
		err, got, tunnels := send(t, private, private)
		ce := wantTLSError(t, err)
		if msg := ce.Error(); !strings.Contains(msg, "proxy") || !strings.Contains(msg, "system roots") || !strings.Contains(msg, "caFile verifies the endpoint only") {
			t.Errorf("error does not say the proxy is checked against the system roots: %s", msg)
		}
		if got != 0 || tunnels != 0 {
			t.Errorf("%d uplinks through %d tunnels past an untrusted proxy", got, tunnels)
		}
	})
	t.Run("endpoint signed by the system roots' CA", func(t *testing.T) {
		err, got, tunnels := send(t, public, public)
		ce := wantTLSError(t, err)
		if msg := ce.Error(); !strings.Contains(msg, "endpoint's certificate is not signed by the CA in caFile") {
			t.Errorf("error does not say the endpoint fails caFile: %s", msg)
		}
		if got != 0 || tunnels != 1 {
			t.Errorf("%d uplinks through %d tunnels, want 0 through 1 (the proxy was fine)", got, tunnels)
		}
	})
}

func wantTLSError(t *testing.T, err error) *connector.Error {
	t.Helper()
	var ce *connector.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a *connector.Error", err)
	}
	if ce.Kind != connector.Retry || ce.Reason != "tls_certificate" {
		t.Errorf("kind %v reason %q, want Retry tls_certificate", ce.Kind, ce.Reason)
	}
	return ce
}
