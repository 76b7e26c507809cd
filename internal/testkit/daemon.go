package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// FreePort is a port nothing listens on now, for a server that cannot be
// given port 0 and report the port it took (nginx, haproxy, squid). The
// agent and the tests' own servers take port 0.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartDaemon runs a server from its Debian package (nginx, haproxy,
// squid…) in the foreground and waits until it accepts connections on
// 127.0.0.1:port. It skips the test when the program is not installed,
// except under CI (see Need). The daemon and its workers are killed when
// the test ends.
func StartDaemon(tb testing.TB, port int, prog string, args ...string) {
	tb.Helper()
	path, err := exec.LookPath(prog)
	if err != nil { // /usr/sbin is not in every PATH
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if p := filepath.Join(dir, prog); fileExists(p) {
				path, err = p, nil
			}
		}
	}
	Need(tb, err == nil, fmt.Sprintf("%s (apt-get install %s)", prog, prog))
	cmd := exec.Command(path, args...)
	// A file, not a pipe: worker processes would hold a pipe open.
	logPath := filepath.Join(tb.TempDir(), prog+".out")
	outf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outf, outf
	// Its own process group, so that its workers go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	outf.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	out := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	WaitUntil(tb, prog+" listening on "+addr, func() bool {
		select {
		case <-exited:
			tb.Fatalf("%s exited: %s", prog, out())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
