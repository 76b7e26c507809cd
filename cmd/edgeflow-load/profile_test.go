package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edgeflow/agent"
	"edgeflow/config"
)

// BenchmarkAgentPipeline runs the whole agent in this process under the
// reference load shape (2 rxpk per datagram, 64 in flight) so that
// `go test -cpuprofile` shows where an uplink's CPU goes, from the UDP read
// to the endpoint's 2xx, without linking a profiler into the agent
// binary. One op is one uplink; the tool's own forwarder and endpoint run
// in the same process and show in the profile under package main and
// net/http's server side.
func BenchmarkAgentPipeline(b *testing.B) {
	for _, persist := range []string{"on-outage", "always"} {
		b.Run(persist, func(b *testing.B) { benchPipeline(b, persist) })
	}
}

// BenchmarkAgentPipelineSteady paces the uplinks at 10/s, one per
// datagram, to show what an uplink costs when nothing is batched and
// every step wakes from idle (run it with -benchtime 300x: 30 s).
func BenchmarkAgentPipelineSteady(b *testing.B) {
	benchPipelineAt(b, "on-outage", 10, 1, 1)
}

func benchPipeline(b *testing.B, persist string) { benchPipelineAt(b, persist, 0, 2, 64) }

func benchPipelineAt(b *testing.B, persist string, rate float64, rxpk, sources int) {
	dir := b.TempDir()
	o := options{devices: 100, rxpk: rxpk, payload: 12, window: 64, sources: sources, persist: persist, logLevel: "warn", uplinks: b.N}
	sch := schedule{devices: o.devices}
	devs := make([]device, o.devices)
	for i := range devs {
		devs[i] = newDevice(i, liveEUIByte)
	}
	ep, err := startEndpoint("127.0.0.1:0", 0, 0, sch)
	if err != nil {
		b.Fatal(err)
	}
	defer ep.close()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(agentConfig(o, filepath.Join(dir, "buffer.db"), "http://"+ep.addr+"/uplink", devs)), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, _, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.Stop(context.Background()) }()
	dgrams, err := buildDatagrams(devs, sch, b.N, o.rxpk, o.payload)
	if err != nil {
		b.Fatal(err)
	}
	fw, err := newForwarder(a.UDPAddr(), o.sources, o.window, rate, o.rxpk, b.N)
	if err != nil {
		b.Fatal(err)
	}
	ep.sentAt = func(int) (int64, bool) { return 0, false }
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	ep.arm(begin, 0, b.N)
	fw.run(dgrams, begin)
	fw.mu.Lock()
	ep.expectOnly(min(fw.acked*o.rxpk, b.N))
	fw.mu.Unlock()
	select {
	case <-ep.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("endpoint got %d of %d", ep.count(), b.N)
	}
	b.StopTimer()
}
