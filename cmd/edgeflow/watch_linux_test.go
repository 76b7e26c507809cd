//go:build linux

package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Each way a technician's editor saves a file is told, for the
// configuration and for a devices file in another directory.
func TestWatchFilesSeesSaves(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "edgeflow.yaml")
	devs := filepath.Join(t.TempDir(), "devices.yaml")
	for _, p := range []string{cfg, devs} {
		if err := os.WriteFile(p, []byte("a: 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	changed, stop, ok := watchFiles(cfg, devs)
	if !ok {
		t.Fatal("inotify is not available")
	}
	defer stop()
	told := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second): // a bound for "never", not a timing
			t.Fatalf("%s: no change told", what)
		}
	}
	if err := os.WriteFile(cfg, []byte("a: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	told("written in place")
	tmp := filepath.Join(filepath.Dir(cfg), ".edgeflow.yaml.swp")
	if err := os.WriteFile(tmp, []byte("a: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, cfg); err != nil {
		t.Fatal(err)
	}
	told("renamed over")
	if err := os.WriteFile(devs, []byte("b: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	told("the devices file, elsewhere")
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	told("removed")
}

// Events are filtered by name: another file of the directory is not a
// change; a lost queue is.
func TestNamesIn(t *testing.T) {
	event := func(mask uint32, name string) []byte {
		n := (len(name) + 1 + 3) &^ 3 // NUL-terminated, padded
		b := make([]byte, unix.SizeofInotifyEvent+n)
		binary.NativeEndian.PutUint32(b[4:8], mask)
		binary.NativeEndian.PutUint32(b[12:16], uint32(n))
		copy(b[unix.SizeofInotifyEvent:], name)
		return b
	}
	names := map[string]bool{"edgeflow.yaml": true}
	other := event(unix.IN_CLOSE_WRITE, "edgeflow.yaml.swp")
	for _, c := range []struct {
		what string
		b    []byte
		want bool
	}{
		{"another file", other, false},
		{"the file after another", append(other, event(unix.IN_MOVED_TO, "edgeflow.yaml")...), true},
		{"a prefix of the name", event(unix.IN_CLOSE_WRITE, "edgeflow"), false},
		{"queue overflow", event(unix.IN_Q_OVERFLOW, ""), true},
	} {
		if got := namesIn(c.b, names); got != c.want {
			t.Errorf("%s: namesIn = %v, want %v", c.what, got, c.want)
		}
	}
}
