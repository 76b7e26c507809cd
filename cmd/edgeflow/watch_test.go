package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
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
		t.Fatal("no watch")
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
// change, whatever happens to it.
func TestWatchedNames(t *testing.T) {
	dir := t.TempDir()
	names := watched{"edgeflow.yaml": true}
	for _, c := range []struct {
		name string
		op   fsnotify.Op
		want bool
	}{
		{"edgeflow.yaml", fsnotify.Write, true},
		{"edgeflow.yaml", fsnotify.Create, true}, // renamed over
		{"edgeflow.yaml", fsnotify.Remove, true},
		{"edgeflow.yaml.swp", fsnotify.Write, false},
		{"edgeflow", fsnotify.Create, false}, // a prefix of the name
		{"buffer.db", fsnotify.Write, false},
	} {
		ev := fsnotify.Event{Name: filepath.Join(dir, c.name), Op: c.op}
		if got := names.has(ev); got != c.want {
			t.Errorf("%s %s: has = %v, want %v", c.op, c.name, got, c.want)
		}
	}
}
