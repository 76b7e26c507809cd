package main

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// crypto/x509 loads the system's roots once per process, so each case runs
// in a child process (this test binary again) with its own SSL_CERT_FILE
// and SSL_CERT_DIR.
func TestFallbackRootsOnlyWithoutSystemRoots(t *testing.T) {
	if os.Getenv("EDGEFLOW_ROOTS_CHILD") != "" {
		rootsChild(t)
		return
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	withRoot := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(withRoot, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, file, want string }{
		{"the system has roots", withRoot, "system"},
		{"the system has none", filepath.Join(dir, "missing.pem"), "fallback"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFallbackRootsOnlyWithoutSystemRoots$", "-test.v")
			cmd.Env = append(os.Environ(), "EDGEFLOW_ROOTS_CHILD="+c.want, "SSL_CERT_FILE="+c.file,
				"SSL_CERT_DIR="+filepath.Join(dir, "nodir"), "EDGEFLOW_ROOTS_URL="+srv.URL)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
		})
	}
}

func rootsChild(t *testing.T) {
	var r fallbackRoots
	r.ensure()
	r.ensure() // once: a second call must not panic in SetFallbackRoots
	sys, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	// The test server's certificate verifies against the system's roots
	// only when they are the file's.
	_, err = http.Get(os.Getenv("EDGEFLOW_ROOTS_URL"))
	switch os.Getenv("EDGEFLOW_ROOTS_CHILD") {
	case "system":
		if err != nil {
			t.Fatalf("with the system's root, the server does not verify: %v", err)
		}
	case "fallback":
		if sys.Equal(x509.NewCertPool()) {
			t.Fatal("no system roots, and no fallback roots either")
		}
		if err == nil {
			t.Fatal("the test server verified against the fallback roots")
		}
	}
}
