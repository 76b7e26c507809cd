package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgeflow/internal/testkit"
)

// templateKeys are the keys kardianos/service v1.3.0 gives each backend's
// template (service_*_linux.go, Install); any other key fails at install
// time with "unknown template key", which no unit test of kardianos sees.
var templateKeys = map[string][]string{
	"systemd": {"Description", "Path", "Name", "Dependencies", "Arguments", "ChRoot", "WorkingDirectory", "UserName",
		"ReloadSignal", "PIDFile", "LogDirectory", "OutputFileSupport", "LimitNOFILE", "Restart", "SuccessExitStatus", "EnvVars"},
	"sysv":   {"Description", "DisplayName", "Path", "Arguments", "WorkingDirectory", "LogDirectory", "EnvVars"},
	"procd":  {"Path", "Name", "Arguments"},
	"openrc": {"DisplayName", "Description", "Path", "Arguments", "Dependencies", "LogDirectory", "EnvVars"},
}

var actionRe = regexp.MustCompile(`{{-?\s*(.*?)\s*-?}}`)

// packagedStateDir is the buffer's directory in each package's
// configuration: /var/lib in the .deb, flash under /etc in the .ipk
// (OpenWrt's /var is RAM).
func packagedStateDir(init string) string {
	if init == "procd" {
		return "/etc/edgeflow"
	}
	return "/var/lib/edgeflow"
}

func scriptFor(t *testing.T, init string) string {
	t.Helper()
	c := serviceConfig(init, stableBinary, defaultConfigPath, packagedStateDir(init))
	key := map[string]string{"systemd": "SystemdScript", "sysv": "SysvScript", "procd": "SysvScript", "openrc": "OpenRCScript"}[init]
	s, ok := c.Option[key].(string)
	if !ok || s == "" {
		t.Fatalf("%s: no custom %s", init, key)
	}
	return s
}

// TestTemplatesUseOnlyKardianosKeys catches the old text/template syntax
// ({{.Name}}, and/eq, method calls) and keys a backend does not provide.
func TestTemplatesUseOnlyKardianosKeys(t *testing.T) {
	for init, keys := range templateKeys {
		allowed := map[string]bool{".": true}
		for _, k := range keys {
			allowed[k] = true
		}
		for _, m := range actionRe.FindAllStringSubmatch(scriptFor(t, init), -1) {
			action := m[1]
			if action == "end" || action == "else" {
				continue
			}
			parts := strings.Split(action, "|")
			head := strings.Fields(parts[0])
			key := head[len(head)-1]
			if len(head) == 2 && head[0] != "if" && head[0] != "range" || len(head) > 2 {
				t.Errorf("%s: action {{%s}} is not in kardianos v1.3.0's syntax", init, action)
				continue
			}
			if !allowed[key] {
				t.Errorf("%s: key %q in {{%s}} is not one kardianos gives this backend", init, key, action)
			}
			for _, fn := range parts[1:] {
				if f := strings.TrimSpace(fn); f != "cmd" && f != "cmdEscape" {
					t.Errorf("%s: unknown template function %q", init, f)
				}
			}
		}
	}
}

// render is a copy of the semantics of kardianos' small template engine,
// for the subset the service files use: {{Key}}, {{.}}, {{range Key}} and
// {{if Key}} (no else, no pipes).
func render(t *testing.T, tmpl string, data map[string]any) string {
	t.Helper()
	var out strings.Builder
	var walk func(src string, dot string) string
	walk = func(src string, dot string) string {
		for {
			i := strings.Index(src, "{{")
			if i < 0 {
				out.WriteString(src)
				return ""
			}
			out.WriteString(src[:i])
			j := strings.Index(src[i:], "}}")
			action := strings.TrimSpace(src[i+2 : i+j])
			src = src[i+j+2:]
			switch f := strings.Fields(action); {
			case action == "end":
				return src
			case action == ".":
				out.WriteString(dot)
			case f[0] == "range" || f[0] == "if":
				var items []string
				switch v := data[f[1]].(type) {
				case []string:
					items = v
				case string:
					if v != "" {
						items = []string{v}
					}
				}
				if f[0] == "if" && len(items) > 0 {
					items = items[:1]
				}
				rest := src
				start := out.Len()
				if len(items) == 0 {
					// Skip the body: render it once and throw it away.
					rest = walk(src, "")
					s := out.String()[:start]
					out.Reset()
					out.WriteString(s)
				}
				for _, it := range items {
					rest = walk(src, it)
				}
				src = rest
			default:
				v, ok := data[action].(string)
				if !ok {
					t.Fatalf("render: no string key %q", action)
				}
				out.WriteString(v)
			}
		}
	}
	walk(tmpl, "")
	return out.String()
}

func renderData(init string) map[string]any {
	c := serviceConfig(init, stableBinary, defaultConfigPath, packagedStateDir(init))
	return map[string]any{
		"Description":  c.Description,
		"DisplayName":  c.DisplayName,
		"Name":         c.Name,
		"Path":         c.Executable,
		"Arguments":    c.Arguments,
		"ReloadSignal": c.Option["ReloadSignal"],
		"Restart":      c.Option["Restart"],
	}
}

// TestPackagedServiceFilesMatch keeps the .deb's systemd unit and sysv
// script and the .ipk's procd script the same as what "service install"
// writes.
func TestPackagedServiceFilesMatch(t *testing.T) {
	for init, file := range map[string]string{
		"systemd": "../../scripts/packaging/edgeflow.service",
		"sysv":    "../../scripts/packaging/edgeflow.sysv",
		"procd":   "../../scripts/packaging/edgeflow.procd",
	} {
		got := render(t, scriptFor(t, init), renderData(init))
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the %s file install writes; write it as:\n%s", file, init, got)
		}
	}
}

func TestServiceFiles(t *testing.T) {
	unit := render(t, scriptFor(t, "systemd"), renderData("systemd"))
	for _, want := range []string{
		"ExecStart=/usr/bin/edgeflow service run --config /etc/edgeflow/edgeflow.yaml --log stderr\n",
		"Restart=on-failure\n", "RestartSec=5\n", "ExecReload=/bin/kill -HUP $MAINPID\n", "StartLimitIntervalSec=0\n",
		"User=edgeflow\n", "ReadWritePaths=/etc/edgeflow /var/lib/edgeflow\n", "StateDirectory=edgeflow\n", "NoNewPrivileges=yes\n",
		"CapabilityBoundingSet=\n", "ProtectSystem=strict\n", "SystemCallFilter=@system-service\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("systemd unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "StandardOutput=file") || strings.Contains(unit, "/var/log") {
		t.Errorf("systemd unit logs to a file:\n%s", unit)
	}
	procd := render(t, scriptFor(t, "procd"), renderData("procd"))
	for _, want := range []string{"USE_PROCD=1", "procd_set_param respawn 3600 5 -1", "procd_set_param file /etc/edgeflow/edgeflow.yaml",
		"procd_set_param stdout 1", "procd_set_param stderr 1", "procd_send_signal edgeflow '*' HUP",
		"procd_set_param user edgeflow", "procd_add_jail edgeflow log", "procd_add_jail_mount_rw /etc/edgeflow\n"} {
		if !strings.Contains(procd, want) {
			t.Errorf("procd script lacks %q:\n%s", want, procd)
		}
	}
	sysv := render(t, scriptFor(t, "sysv"), renderData("sysv"))
	if !strings.Contains(sysv, "exec /usr/bin/edgeflow service run --config /etc/edgeflow/edgeflow.yaml --log syslog --user edgeflow\n") {
		t.Errorf("sysv script does not run the agent as edgeflow with syslog logging:\n%s", sysv)
	}
	openrc := render(t, scriptFor(t, "openrc"), renderData("openrc"))
	for _, want := range []string{`command_user="edgeflow:edgeflow"`, "checkpath --directory --owner edgeflow:edgeflow --mode 0750 /var/lib/edgeflow"} {
		if !strings.Contains(openrc, want) {
			t.Errorf("openrc script lacks %q:\n%s", want, openrc)
		}
	}
	for init, script := range map[string]string{"systemd": unit, "procd": procd, "sysv": sysv, "openrc": openrc} {
		if regexp.MustCompile(`@[A-Z_]+@`).MatchString(script) {
			t.Errorf("%s: a placeholder is left:\n%s", init, script)
		}
	}
	if strings.Contains(sysv, "/var/log") {
		t.Errorf("sysv script logs to a file under /var/log")
	}
	// Every shell script parses.
	for _, init := range []string{"sysv", "procd", "openrc"} {
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(render(t, scriptFor(t, init), renderData(init)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s script: sh -n: %v\n%s", init, err, out)
		}
	}
}

func TestChooseInitAndKind(t *testing.T) {
	for _, name := range []string{"systemd", "sysv", "procd", "openrc"} {
		if got, err := chooseInit(name); err != nil || got != name {
			t.Errorf("chooseInit(%q) = %q, %v", name, got, err)
		}
	}
	if _, err := chooseInit("upstart"); err == nil {
		t.Error("chooseInit(upstart) accepted")
	}
	dir := t.TempDir()
	for body, want := range map[string]string{
		"#!/bin/sh /etc/rc.common\nUSE_PROCD=1\n": "procd",
		"#!/sbin/openrc-run\n":                    "openrc",
		"#!/bin/sh\n### BEGIN INIT INFO\n":        "sysv",
	} {
		p := filepath.Join(dir, want)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := initScriptKind(p); got != want {
			t.Errorf("initScriptKind(%q) = %q, want %q", body, got, want)
		}
	}
	if got := initScriptKind(filepath.Join(dir, "none")); got != "" {
		t.Errorf("initScriptKind(missing) = %q", got)
	}
}

func TestSafePath(t *testing.T) {
	for p, want := range map[string]bool{
		"/etc/edgeflow/edgeflow.yaml": true, "/usr/bin/edgeflow": true, "/media/card/edge-flow_1.2+x/c.yaml": true,
		"relative.yaml": false, "/tmp/a b.yaml": false, `/tmp/$(reboot)`: false, "/tmp/a\"b": false, "": false,
	} {
		if got := safePath(p); got != want {
			t.Errorf("safePath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestServiceCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cmdService(nil, &out, &errb); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code := cmdService([]string{"bogus"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := cmdService([]string{"status", "--init", "upstart"}, &out, &errb); code != 2 {
		t.Errorf("bad --init: exit %d", code)
	}
	out.Reset()
	if code := cmdService([]string{"platform", "--init", "procd"}, &out, &errb); code != 0 {
		t.Fatalf("platform: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "init system: procd\n") || !strings.Contains(out.String(), "detected:") {
		t.Errorf("platform printed:\n%s", out.String())
	}
}

// TestServiceReloadValidatesFirst: "service reload" prints every problem
// of an invalid file and sends nothing; a valid file is only sent to an
// installed service.
func TestServiceReloadValidatesFirst(t *testing.T) {
	if installedFile("sysv") != "" {
		t.Skip("edgeflow is installed here")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("packetForwarder:\n  udp:\n    bnd: \"127.0.0.1:0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdService([]string{"reload", "--init", "sysv", "--config", bad}, &out, &errb); code != 1 {
		t.Errorf("invalid file: exit %d", code)
	}
	if !strings.Contains(errb.String(), `unknown key "bnd"`) || !strings.Contains(errb.String(), "not reloaded") {
		t.Errorf("invalid file: stderr\n%s", errb.String())
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("buffer:\n  path: \""+dir+"/buffer.db\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := cmdService([]string{"reload", "--init", "sysv", "--config", good}, &out, &errb); code != 4 {
		t.Errorf("valid file, not installed: exit %d, want 4; stderr\n%s", code, errb.String())
	}
}

// TestSyslogWriterFallsBack: with no syslog daemon, log lines still reach
// the fallback writer rather than vanishing.
func TestSyslogWriterFallsBack(t *testing.T) {
	for _, p := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			t.Skipf("%s exists: a syslog daemon would get the lines", p)
		}
	}
	var fb bytes.Buffer
	w := newSyslogWriter("edgeflow-test", &fb)
	line := "time=2026-01-01T00:00:00Z level=INFO msg=hello\n"
	if n, err := w.Write([]byte(line)); err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if fb.String() != line {
		t.Errorf("fallback got %q", fb.String())
	}
}

// pushAndAck sends one GWMP PUSH_DATA (a gateway status report) to addr and
// waits for its PUSH_ACK.
func pushAndAck(addr string, version byte) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	tok := uint16(time.Now().UnixNano())
	pkt := []byte{version, byte(tok >> 8), byte(tok), 0x00, 0xAA, 0x55, 0x5A, 0, 0, 0, 1, 1}
	pkt = append(pkt, `{"stat":{"time":"2026-01-01 00:00:00 GMT","rxnb":0,"rxok":0,"rxfw":0,"ackr":100.0,"dwnb":0,"txnb":0}}`...)
	if _, err := conn.Write(pkt); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		return fmt.Errorf("no PUSH_ACK from %s: %v", addr, err)
	}
	if want := []byte{version, byte(tok >> 8), byte(tok), 0x01}; !bytes.Equal(buf[:n], want) {
		return fmt.Errorf("PUSH_ACK = % x, want % x", buf[:n], want)
	}
	return nil
}

// TestServiceRun runs "edgeflow service run" as an init system would: it
// answers PUSH_DATA, survives SIGHUP (reload), refuses nothing on a reload
// with a broken file, and stops cleanly on SIGTERM.
func TestServiceRun(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	cfg := `packetForwarder:
  udp:
    bind: "127.0.0.1:0"
api:
  bind: "127.0.0.1:0"
buffer:
  path: "` + dir + `/buffer.db"
connections:
  - {"name":"Test","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://127.0.0.1:9/uplink"}}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.RunAgent(t, "service", "run", "--config", cfgPath, "--log", "stderr", "--allow-root")
	addr := ag.UDP
	// Installed services run on one P as `run` does (docs/decisions/gomaxprocs.md).
	if os.Getenv("GOMAXPROCS") == "" && !strings.Contains(ag.Log(), " gomaxprocs=1") {
		t.Errorf("service run's start line does not say gomaxprocs=1:\n%s", ag.Log())
	}
	push := func(version byte) {
		t.Helper()
		if err := pushAndAck(addr, version); err != nil {
			t.Fatal(err)
		}
	}
	push(2)

	ag.Signal(t, syscall.SIGHUP)
	ag.WaitLog(t, "reload requested")
	push(2)

	// A broken file on reload is reported; the agent goes on.
	if err := os.WriteFile(cfgPath, []byte("packetForwarder: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.Signal(t, syscall.SIGHUP)
	ag.WaitLog(t, "keeping the running one")
	push(1)

	ag.Stop(t)
}

// TestServiceRunInvalidConfigExits: an invalid file makes "service run"
// exit non-zero at once, so the supervisor (systemd, procd, the sysv loop)
// retries and the operator sees why in the log.
func TestServiceRunInvalidConfigExits(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte("packetForwarder:\n  udp:\n    bnd: \"127.0.0.1:0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testkit.AgentBinary(t), "service", "run", "--config", cfgPath, "--log", "stderr", "--allow-root")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("exit 0 on an invalid file; stderr:\n%s", errb.String())
		}
	case <-time.After(testkit.Patience):
		_ = cmd.Process.Kill()
		t.Fatal("still running on an invalid configuration")
	}
	if !strings.Contains(errb.String(), "bnd") {
		t.Errorf("the problem is not named:\n%s", errb.String())
	}
}
