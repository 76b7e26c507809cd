package main_test

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// TestConnectionCAFile: an HTTPS endpoint whose certificate no system root
// signs is reached when the connection names its CA file, and refused (the
// uplink kept) without it: verification is never switched off.
func TestConnectionCAFile(t *testing.T) {
	d := newDevice(1)
	var got atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caPath, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, withCA := range []bool{false, true} {
		t.Run(fmt.Sprintf("caFile=%v", withCA), func(t *testing.T) {
			got.Store(0)
			extra := ""
			if withCA {
				extra = fmt.Sprintf(`,"caFile":%q`, caPath)
			}
			cfg := strings.Replace(configText(srv.URL, "on-outage", d),
				fmt.Sprintf(`"destinationURL":%q}`, srv.URL), fmt.Sprintf(`"destinationURL":%q%s}`, srv.URL, extra), 1)
			ag := testkit.StartAgent(t, cfg)
			fw := newForwarder(t, ag.UDP)
			fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte("tls")), -70, 5, ""))
			if withCA {
				testkit.WaitUntil(t, "the uplink at the endpoint", func() bool { return got.Load() > 0 })
			} else {
				// The failed handshake is logged once the agent tried.
				ag.WaitLog(t, "certificate")
			}
			if withCA && got.Load() != 1 {
				t.Fatalf("endpoint got %d uplinks with the CA file, want 1", got.Load())
			}
			if !withCA {
				if got.Load() != 0 {
					t.Fatalf("an endpoint signed by an unknown CA was accepted")
				}
			}
			ag.Stop(t)
		})
	}
}
