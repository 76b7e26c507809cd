package connector_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// TestLeanServerProcess is the endpoint of BenchmarkHTTPSendPaced in a
// process of its own (its CPU and wakeups are not the client's): it
// prints its address and serves until its stdin closes.
func TestLeanServerProcess(t *testing.T) {
	if os.Getenv("EDGEFLOW_LEAN_SERVER") == "" {
		t.Skip("the endpoint process of BenchmarkHTTPSendPaced")
	}
	url := leanServer(t)
	os.Stdout.WriteString(strings.TrimPrefix(url, "http://") + "\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// leanServerProcess starts TestLeanServerProcess and returns its address.
func leanServerProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeanServerProcess$")
	cmd.Env = append(os.Environ(), "EDGEFLOW_LEAN_SERVER=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(addr)
}

// BenchmarkHTTPSendPaced sends one uplink every 20 ms, as a gateway's
// usual traffic arrives, to an endpoint in another process; cpu-µs/op is
// this process's CPU (rusage) per uplink: the request's work plus the
// scheduler's wakeups around it, which is what a gateway pays at 10/s.
// Under qemu-user, which cannot start the endpoint process, start it
// natively (EDGEFLOW_LEAN_SERVER=1 connector.test -test.run
// '^TestLeanServerProcess$') and give its address in
// EDGEFLOW_LEAN_SERVER_ADDR.
func BenchmarkHTTPSendPaced(b *testing.B) {
	addr := os.Getenv("EDGEFLOW_LEAN_SERVER_ADDR")
	if addr == "" {
		addr = leanServerProcess(b)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		b.Fatalf("endpoint address %q: %v", addr, err)
	}
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: "http://" + addr + "/uplink"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	ups := make([]uplink.Uplink, 16)
	for i := range ups {
		ups[i] = testUplink(uint32(i + 1))
	}
	ctx := context.Background()
	if err := h.Send(ctx, &ups[0], false); err != nil {
		b.Fatal(err)
	}
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		time.Sleep(20 * time.Millisecond)
		if err := h.Send(ctx, &ups[n%len(ups)], false); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/op")
	b.ReportMetric(float64(after.Nvcsw+after.Nivcsw-before.Nvcsw-before.Nivcsw)/float64(n), "ctxsw/op")
}
