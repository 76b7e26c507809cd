package testkit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The agent binary, built once per test binary by AgentBinary and removed
// by Main.
var agentBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

// AgentBinary builds cmd/edgeflow as a gateway runs it (CGO_ENABLED=0),
// once per test binary, and returns its path. A package that calls it
// runs its tests through Main, which removes the binary at the end.
func AgentBinary(tb testing.TB) string {
	tb.Helper()
	b := &agentBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "edgeflow-testkit-"); b.err != nil {
			return
		}
		b.bin = filepath.Join(b.dir, "edgeflow")
		cmd := exec.Command("go", "build", "-o", b.bin, "edgeflow/cmd/edgeflow")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building edgeflow: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.bin
}

// Main runs the tests of a package that starts the agent, then removes
// the binary AgentBinary built:
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if agentBuild.dir != "" {
		os.RemoveAll(agentBuild.dir)
	}
	os.Exit(code)
}

// Agent is an edgeflow subprocess. Its log (stderr) is kept, and shown
// when the test fails.
type Agent struct {
	// UDP and API are the addresses its "edgeflow started" line names
	// (API "" or "off" when it serves none).
	UDP, API string

	cmd     *exec.Cmd
	exited  chan struct{}
	mu      sync.Mutex
	log     strings.Builder
	changed changes
}

var (
	startedUDP = regexp.MustCompile(`msg="edgeflow started".* udp=(\S+)`)
	startedAPI = regexp.MustCompile(`msg="edgeflow started".* api=(\S+)`)
)

// WriteConfig writes the configuration text to edgeflow.yaml in a new
// temporary directory, "$DIR" replaced by that directory (for the buffer's
// path), and returns the file's path.
func WriteConfig(tb testing.TB, cfg string) string {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(cfg, "$DIR", dir)), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// StartAgent runs "edgeflow run" on the configuration text (see
// WriteConfig) and waits until it listens.
func StartAgent(tb testing.TB, cfg string, extraArgs ...string) *Agent {
	tb.Helper()
	return StartAgentFile(tb, WriteConfig(tb, cfg), extraArgs...)
}

// StartAgentFile runs "edgeflow run --config path" and waits until it
// listens.
func StartAgentFile(tb testing.TB, path string, extraArgs ...string) *Agent {
	tb.Helper()
	return RunAgent(tb, append([]string{"run", "--config", path}, extraArgs...)...)
}

// RunAgent runs the agent binary with args ("service", "run", …) and waits
// for its "edgeflow started" line; the test fails if it exits first. The
// process is killed when the test ends.
func RunAgent(tb testing.TB, args ...string) *Agent {
	tb.Helper()
	a := &Agent{exited: make(chan struct{})}
	a.cmd = exec.Command(AgentBinary(tb), args...)
	a.cmd.Env = append(os.Environ(), "HOME="+tb.TempDir())
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			a.mu.Lock()
			a.log.WriteString(line + "\n")
			if a.UDP == "" {
				if m := startedUDP.FindStringSubmatch(line); m != nil {
					a.UDP = m[1]
					if m := startedAPI.FindStringSubmatch(line); m != nil {
						a.API = m[1]
					}
				}
			}
			a.mu.Unlock()
			a.changed.notify()
		}
	}()
	go func() {
		<-logDone // Wait closes the pipe: read it all first
		_ = a.cmd.Wait()
		close(a.exited)
		a.changed.notify()
	}()
	tb.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		<-a.exited
		if tb.Failed() {
			tb.Logf("agent log (%s):\n%s", strings.Join(args, " "), a.Log())
		}
	})
	var udp string
	started := a.changed.waitFor(tb, func() bool {
		a.mu.Lock()
		udp = a.UDP
		a.mu.Unlock()
		return udp != "" || a.hasExited()
	})
	if udp == "" {
		if started {
			tb.Fatalf("agent exited before listening:\n%s", a.Log())
		}
		tb.Fatalf("agent did not start:\n%s", a.Log())
	}
	return a
}

func (a *Agent) hasExited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// Log is what the agent logged so far.
func (a *Agent) Log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// WaitLog waits until the log has n lines containing s (n 1 when
// omitted, or the count since the test's start otherwise).
func (a *Agent) WaitLog(tb testing.TB, s string, n ...int) {
	tb.Helper()
	want := 1
	if len(n) > 0 {
		want = n[0]
	}
	ok := a.changed.waitFor(tb, func() bool { return strings.Count(a.Log(), s) >= want || a.hasExited() })
	if got := strings.Count(a.Log(), s); !ok || got < want {
		tb.Fatalf("the agent logged %q %d times, want %d (exited: %v)", s, got, want, a.hasExited())
	}
}

// Signal sends sig to the agent.
func (a *Agent) Signal(tb testing.TB, sig os.Signal) {
	tb.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// Stop sends SIGTERM and waits for a clean exit (status 0).
func (a *Agent) Stop(tb testing.TB) {
	tb.Helper()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.Wait(tb); code != 0 {
		tb.Fatalf("agent exited with %d after SIGTERM:\n%s", code, a.Log())
	}
}

// Wait waits for the agent to exit and returns its exit code.
func (a *Agent) Wait(tb testing.TB) int {
	tb.Helper()
	select {
	case <-a.exited:
	case <-time.After(patience(tb)):
		tb.Fatalf("agent still running after %v", patience(tb))
	}
	return a.cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL and waits until the agent is gone.
func (a *Agent) Kill() {
	_ = a.cmd.Process.Kill()
	<-a.exited
}

// Exited is closed once the agent has exited.
func (a *Agent) Exited() <-chan struct{} { return a.exited }

// RunCLI runs the built binary once, as a technician would type a command,
// with a HOME of its own, and returns its stdout, stderr and exit code.
func RunCLI(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	cmd := exec.Command(AgentBinary(tb), args...)
	cmd.Env = append(os.Environ(), "HOME="+tb.TempDir())
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return out.String(), errb.String(), code
}
