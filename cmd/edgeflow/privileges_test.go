package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edgeflow/buffer"
	"edgeflow/internal/testkit"
)

func TestRootCheck(t *testing.T) {
	dir := t.TempDir()
	if w, err := rootCheck(1000, false, dir); w != "" || err != nil {
		t.Errorf("not root: %q, %v", w, err)
	}
	if w, err := rootCheck(0, true, dir); w != "" || err != nil {
		t.Errorf("--allow-root: %q, %v", w, err)
	}
	// Root's own files (a fresh machine): a warning naming the user.
	if os.Geteuid() == 0 {
		w, err := rootCheck(0, false, dir)
		if err != nil || !strings.Contains(w, serviceUser) {
			t.Errorf("root on root's files: %q, %v", w, err)
		}
		// Files of another user (an installed service's): refused, naming it.
		owned := filepath.Join(dir, "state")
		if err := os.Mkdir(owned, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(owned, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err = rootCheck(0, false, filepath.Join(dir, "missing"), owned)
		if err == nil || !strings.Contains(err.Error(), owned) || !strings.Contains(err.Error(), "--allow-root") {
			t.Errorf("root on another user's files: %v", err)
		}
	}
}

func TestAppendPasswd(t *testing.T) {
	etc := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 200 is taken in group, 201 in passwd; no newline at the end of group.
	write("passwd", "root:x:0:0:root:/root:/bin/ash\nnet:x:201:201::/var:/bin/false\n")
	write("group", "root:x:0:\nfoo:x:200:")
	write("shadow", "root:*:0:0:99999:7:::\n")
	if err := appendPasswd(etc, "/etc/edgeflow", "/bin/false"); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(etc, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("passwd"); !strings.HasSuffix(got, "\nedgeflow:x:202:202:edgeflow agent:/etc/edgeflow:/bin/false\n") {
		t.Errorf("passwd:\n%s", got)
	}
	if got := read("group"); got != "root:x:0:\nfoo:x:200:\nedgeflow:x:202:\n" {
		t.Errorf("group:\n%s", got)
	}
	if got := read("shadow"); !strings.HasSuffix(got, "\nedgeflow:*:0:0:99999:7:::\n") {
		t.Errorf("shadow:\n%s", got)
	}
}

func TestInstalledConfig(t *testing.T) {
	dir := t.TempDir()
	for init := range initSystems {
		p := filepath.Join(dir, init)
		s := render(t, serviceConfig(init, stableBinary, "/media/card/edgeflow.yaml", "/media/card").Option[map[string]string{
			"systemd": "SystemdScript", "sysv": "SysvScript", "procd": "SysvScript", "openrc": "OpenRCScript"}[init]].(string),
			renderData(init))
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		// renderData renders the default paths; what counts is that the
		// --config of the file is found.
		if got := installedConfig(p); got != defaultConfigPath {
			t.Errorf("%s: installedConfig = %q, want %q", init, got, defaultConfigPath)
		}
	}
	if got := installedConfig(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing file: %q", got)
	}
}

func TestRotatingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgeflow.log")
	r := newRotatingFile(path, 100)
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes
	for i := 0; i < 10; i++ {
		if _, err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	// 10 lines of 40 bytes, two per 100-byte file: the last two in the
	// file, the two before in the old one, the rest gone.
	if len(cur) != 80 || len(old) != 80 {
		t.Errorf("file %d bytes, old file %d bytes; want 80 and 80", len(cur), len(old))
	}
	// A file left by an earlier run counts towards the cap.
	r = newRotatingFile(path, 100)
	if _, err := r.Write(line); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if cur, _ := os.ReadFile(path); len(cur) != 40 {
		t.Errorf("after a restart the full file was appended to: %d bytes", len(cur))
	}
}

// TestSyslogWriterFallsBackToFile: with no syslog daemon the lines go to
// the capped file in the state directory, and the start line's "logs"
// names it.
func TestSyslogWriterFallsBackToFile(t *testing.T) {
	for _, p := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			t.Skipf("%s exists: a syslog daemon would get the lines", p)
		}
	}
	var stderr bytes.Buffer
	w := newSyslogWriter("edgeflow-test", &stderr)
	path := filepath.Join(t.TempDir(), logFileName)
	w.setFallback(path)
	if where := w.where(); !strings.HasPrefix(where, "file "+path+" ") {
		t.Errorf("where() = %q", where)
	}
	line := "time=2026-01-01T00:00:00Z level=INFO msg=hello\n"
	if _, err := w.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	w.file.Close()
	if b, _ := os.ReadFile(path); string(b) != line {
		t.Errorf("file holds %q", b)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr got %q", stderr.String())
	}
	// An unwritable file: stderr rather than nothing.
	w.setFallback(filepath.Join(t.TempDir(), "missing", logFileName))
	if _, err := w.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != line {
		t.Errorf("stderr got %q", stderr.String())
	}
}

// TestAgentRootAndRAM runs the built binary: "service run" as root
// refuses without --allow-root and names the user; "run" as root on files
// of another user refuses; a buffer on tmpfs is warned about.
func TestAgentRootAndRAM(t *testing.T) {
	bin := testkit.AgentBinary(t)
	dir := t.TempDir()
	cfgFor := func(bufferDir string) string {
		p := filepath.Join(t.TempDir(), "edgeflow.yaml")
		cfg := "packetForwarder:\n  udp:\n    bind: \"127.0.0.1:0\"\napi:\n  bind: \"127.0.0.1:0\"\nbuffer:\n  path: \"" + bufferDir + "/buffer.db\"\n" +
			"connections:\n  - {\"name\":\"Test\",\"connectorId\":\"actility-http-iot\",\"configuration\":{\"destinationURL\":\"http://127.0.0.1:9/uplink\"}}\n"
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("service run as root", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("not root")
		}
		out, err := run("service", "run", "--config", cfgFor(dir), "--log", "stderr")
		if err == nil || !strings.Contains(out, "refusing to run the service as root") || !strings.Contains(out, "--user edgeflow") {
			t.Errorf("service run as root: %v\n%s", err, out)
		}
	})

	t.Run("run as root on another user's files", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("not root")
		}
		state := filepath.Join(dir, "state")
		if err := os.Mkdir(state, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(state, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		out, err := run("run", "--config", cfgFor(state))
		if err == nil || !strings.Contains(out, "refusing to run as root: "+state) {
			t.Errorf("run as root on another user's files: %v\n%s", err, out)
		}
	})

	t.Run("buffer on tmpfs", func(t *testing.T) {
		shm := "/dev/shm"
		if buffer.VolatileFS(shm) != "tmpfs" {
			t.Skip("no tmpfs at /dev/shm")
		}
		ram, err := os.MkdirTemp(shm, "edgeflow-test")
		if err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { os.RemoveAll(ram) })
		// The agent opens the buffer before its start line.
		ag := testkit.StartAgentFile(t, cfgFor(ram))
		log := ag.Log
		if l := log(); !strings.Contains(l, `level=WARN msg="the buffer is in RAM`) || !strings.Contains(l, "filesystem=tmpfs") {
			t.Errorf("no warning for a buffer on tmpfs:\n%s", l)
		}
	})
}
