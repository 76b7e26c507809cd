package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgeflow/agent/api"
	"edgeflow/config"
)

// An invalid file still gives the API address and token it holds; a file
// whose YAML cannot be read at all gives the defaults; a missing file is
// an error.
func TestClientConfigOfInvalidFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, text, bind, token string
	}{
		{"invalid", "api:\n  bind: \"127.0.0.1:18090\"\n  token: \"tok\"\nbuffer:\n  persits: always\n", "127.0.0.1:18090", "tok"},
		{"broken YAML", "api:\n\tbind: \"127.0.0.1:18090\"\n", config.DefaultAPIBind, ""},
		{"no api section", "log:\n  levle: info\n", config.DefaultAPIBind, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clientConfig(write(tc.name+".yaml", tc.text))
			var inv *invalidConfig
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want an invalidConfig", err)
			}
			if inv.partial.API.Bind != tc.bind || inv.partial.API.Token != tc.token {
				t.Errorf("api %+v, want %s %q", inv.partial.API, tc.bind, tc.token)
			}
		})
	}
	_, err := clientConfig(filepath.Join(dir, "none.yaml"))
	var inv *invalidConfig
	if err == nil || errors.As(err, &inv) {
		t.Errorf("a missing file: %v", err)
	}
}

// A device heard well again after a refusal shows it as past, without
// the hint.
func TestPrintRejectionPast(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	st := api.Status{Devices: []api.DeviceState{
		{DevEUI: "70B3D57ED0000001", LastRejection: &api.Rejection{Reason: "fcnt_replay", Hint: "H1", Time: now.Add(-2 * time.Hour), Count: 0}},
		{DevEUI: "70B3D57ED0000002", Name: "tank", LastRejection: &api.Rejection{Reason: "mic_failure", Hint: "H2", Time: now.Add(-time.Minute), Count: 3}},
	}}
	var b strings.Builder
	printRejections(&b, st, now)
	want := "\nrejected frames:\n" +
		"  70B3D57ED0000001: frame counter went back (2h ago), good uplinks since\n" +
		"  70B3D57ED0000002 (tank): MIC failure (1m ago), 3 since its last good uplink: H2\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
