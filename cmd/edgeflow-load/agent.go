package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildAgent compiles ./cmd/edgeflow as a release would (no cgo), so the
// load measures what ships.
func buildAgent(dir string) (string, error) {
	bin := filepath.Join(dir, "edgeflow")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "edgeflow/cmd/edgeflow")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent: %v\n%s", err, out)
	}
	return bin, nil
}

// agentConfig is the agent's configuration for a load: loopback sockets
// on free ports, one connection to the tool's endpoint (id pinned, so a
// prefilled queue is the one the agent drains), and the devices.
func agentConfig(o options, bufferPath, endpointURL string, devs []device) string {
	var b strings.Builder
	fmt.Fprintf(&b, "packetForwarder:\n  udp:\n    bind: \"127.0.0.1:0\"\napi:\n  bind: \"127.0.0.1:0\"\nlog:\n  level: %q\n", o.logLevel)
	fmt.Fprintf(&b, "buffer:\n  path: %q\n  persist: %q\n", bufferPath, o.persist)
	if o.maxSize != "" {
		fmt.Fprintf(&b, "  maxSize: %q\n", o.maxSize)
	}
	if o.drainRate > 0 || o.mergeWindow != "" {
		b.WriteString("delivery:\n")
		if o.drainRate > 0 {
			fmt.Fprintf(&b, "  drainRate: %d\n", o.drainRate)
		}
		if o.mergeWindow != "" {
			fmt.Fprintf(&b, "  mergeWindow: %q\n", o.mergeWindow)
		}
	}
	fmt.Fprintf(&b, "connections:\n  - {\"id\":%q,\"name\":\"Load endpoint\",\"connectorId\":\"actility-http-iot\",\"configuration\":{\"destinationURL\":%q}}\n",
		queueID, endpointURL)
	b.WriteString("devices:\n")
	for _, d := range devs {
		b.WriteString(d.yaml())
	}
	return b.String()
}

// emulator is the command line before the agent's binary: none, or qemu
// and its -cpu.
func (o options) emulator() []string {
	if o.qemu == "" {
		return nil
	}
	if o.qemuCPU != "" {
		return []string{o.qemu, "-cpu", o.qemuCPU}
	}
	return []string{o.qemu}
}

// queueID is the connection id, and so the buffer queue, of the load.
const queueID = "load"

// agentProc is the agent under load.
type agentProc struct {
	cmd     *exec.Cmd
	udpAddr string
	exited  chan struct{}

	mu    sync.Mutex
	tail  []string // last log lines, for errors
	warns int      // WARN and ERROR lines
	logf  *os.File
}

var startedRe = regexp.MustCompile(`msg="edgeflow started".* udp=(\S+)`)

// startAgent runs `edgeflow run` (under the emulator when given) and waits
// for its "edgeflow started" line, which names the UDP address.
func startAgent(bin string, emulator []string, cfgPath, dir string, maxProcs int) (*agentProc, error) {
	args := []string{"run", "--config", cfgPath}
	name := bin
	if len(emulator) > 0 {
		name, args = emulator[0], append(append(emulator[1:len(emulator):len(emulator)], bin), args...)
	}
	p := &agentProc{cmd: exec.Command(name, args...), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "HOME="+dir)
	if maxProcs > 0 {
		p.cmd.Env = append(p.cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", maxProcs))
	}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	p.logf = logf
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go p.readLog(stderr, addr)
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	select {
	case a := <-addr:
		p.udpAddr = a
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the agent exited before listening:\n%s", p.logTail())
	case <-time.After(2 * time.Minute): // a big buffer is checked first, slowly under qemu
		p.kill()
		return nil, fmt.Errorf("the agent did not start:\n%s", p.logTail())
	}
}

func (p *agentProc) readLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		fmt.Fprintln(p.logf, line)
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			p.warns++
		}
		p.tail = append(p.tail, line)
		if len(p.tail) > 20 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
		if m := startedRe.FindStringSubmatch(line); m != nil {
			select {
			case addr <- m[1]:
			default:
			}
		}
	}
}

func (p *agentProc) pid() int { return p.cmd.Process.Pid }

func (p *agentProc) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

func (p *agentProc) warnings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.warns
}

// stop asks for a clean stop (SIGTERM) and kills after 30 s.
func (p *agentProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("the agent did not stop on SIGTERM")
	}
	p.logf.Close()
	if c := p.cmd.ProcessState.ExitCode(); c != 0 {
		return fmt.Errorf("the agent exited with %d:\n%s", c, p.logTail())
	}
	return nil
}

func (p *agentProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
