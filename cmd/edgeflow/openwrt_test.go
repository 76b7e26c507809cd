package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgeflow/config"
)

// TestOpenwrtConfig: the .ipk's configuration is valid and keeps its
// buffer on flash, small, and says why.
func TestOpenwrtConfig(t *testing.T) {
	text, err := openwrtConfig(config.InitText())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "edgeflow.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := config.Load(path)
	if err != nil {
		t.Fatalf("invalid: %v\n%s", err, text)
	}
	// The one warning is that no device is listed yet: the technician adds them.
	if len(warnings) != 1 || warnings[0].Path != "devices" {
		t.Errorf("warnings: %v", warnings)
	}
	if cfg.Buffer.Path != openwrtBufferPath {
		t.Errorf("buffer.path %q", cfg.Buffer.Path)
	}
	for _, ram := range []string{"/var/", "/tmp/", "/run/"} {
		if strings.HasPrefix(cfg.Buffer.Path, ram) {
			t.Errorf("buffer.path %q is in RAM on OpenWrt", cfg.Buffer.Path)
		}
	}
	if cfg.Buffer.MaxSize != 4*config.MiB {
		t.Errorf("buffer.maxSize %v", cfg.Buffer.MaxSize)
	}
	if !strings.Contains(text, "/var is RAM") || !strings.Contains(text, "16 MB") {
		t.Errorf("the comments do not say why:\n%s", text)
	}
	if _, err := openwrtConfig("buffer:\n  persist: always\n"); err == nil {
		t.Error("a text without the buffer lines was accepted")
	}
}
