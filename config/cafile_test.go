//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadCAFileRefusesWhatIsNotACAFile: a FIFO does not block the
// reader, a device is not read (no /dev/zero filling the memory), a big
// file is refused before it is read.
func TestLoadCAFileRefusesWhatIsNotACAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, MaxCAFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:        "not a regular file",
		"/dev/zero": "not a regular file",
		dir:         "not a regular file",
		big:         "larger than",
	} {
		if _, err := LoadCAFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadCAFile(%s) = %v, want %q", path, err, want)
		}
	}
}

func TestCAFileUnder(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/etc/edgeflow/ca/a.pem", "/etc/edgeflow/ca", true},
		{"/etc/edgeflow/ca/sub/a.pem", "/etc/edgeflow/ca/", true},
		{"/etc/edgeflow/ca/../../passwd", "/etc/edgeflow/ca", false},
		{"/etc/edgeflow/ca", "/etc/edgeflow/ca", false},
		{"/etc/edgeflow/cab/a.pem", "/etc/edgeflow/ca", false},
		{"ca/a.pem", "/etc/edgeflow", false},
		{"/etc/edgeflow/ca/a.pem", "", false},
	} {
		if got := CAFileUnder(c.path, c.dir); got != c.want {
			t.Errorf("CAFileUnder(%q, %q) = %t", c.path, c.dir, got)
		}
	}
}
