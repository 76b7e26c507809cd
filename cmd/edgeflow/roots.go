package main

import (
	"crypto/x509"
	"log/slog"
	"sync"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Gateways often ship no CA bundle (OpenWrt images without ca-bundle, some
// vendor firmwares), and then every HTTPS connection to the cloud would fail
// certificate verification. Mozilla's roots (x509roots/fallback's bundle)
// are then given to crypto/x509 as its fallback, which it uses only when
// the system has no roots of its own; verification is never disabled.
//
// The bundle is parsed only when a connection needs TLS and the system has
// no roots: importing x509roots/fallback parsed it at every start, and its
// 5,000 objects (280 KB on ARM) stayed on the heap, where every garbage
// collection marked them. On an ARM gateway that was 4 % of an uplink's
// instructions at 10 uplinks/s for an agent that speaks only http:// (or
// whose system has roots).
type fallbackRoots struct {
	once sync.Once
	log  *slog.Logger
}

// ensure gives crypto/x509 the fallback roots if the system has none. The
// connectors call it before dialling a connection that may verify a server
// against the system's roots (at the first send, so that the start does
// not wait for the system's roots to load), and the agent before opening
// an MQTT source over TLS.
func (r *fallbackRoots) ensure() {
	r.once.Do(func() {
		// Loads the system's roots, as the first handshake would.
		if sys, err := x509.SystemCertPool(); err == nil && !sys.Equal(x509.NewCertPool()) {
			return
		}
		pool := x509.NewCertPool()
		for c := range bundle.Roots() {
			cert, err := x509.ParseCertificate(c.Certificate)
			if err != nil {
				continue // the bundle is vetted upstream; one bad root is no reason to fail
			}
			if c.Constraint == nil {
				pool.AddCert(cert)
			} else {
				pool.AddCertWithConstraint(cert, c.Constraint)
			}
		}
		x509.SetFallbackRoots(pool)
		if r.log != nil {
			r.log.Info("the system has no CA roots; verifying TLS servers against Mozilla's roots built into edgeflow")
		}
	})
}
