package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"edgeflow/agent"
	"edgeflow/config"
)

var peakHeapProfile = flag.String("peakheap", "", "BenchmarkAgentDrain writes a heap profile at the heap's peak to this file")

// BenchmarkAgentDrain drains a prefilled backlog of b.N uplinks through
// the whole agent in this process. With -peakheap it samples the heap and
// writes a profile when it is largest: the load tool showed RssAnon
// peaking far above the steady state while a backlog drains, and /proc
// cannot say which allocation that is.
func BenchmarkAgentDrain(b *testing.B) {
	dir := b.TempDir()
	o := options{devices: 1, rxpk: 1, payload: 12, window: 1, sources: 1, persist: "on-outage", logLevel: "warn", maxSize: "1GiB"}
	ep, err := startEndpoint("127.0.0.1:0", 0, 0, schedule{devices: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer ep.close()
	ep.sentAt = func(int) (int64, bool) { return 0, false }
	bufPath := filepath.Join(dir, "buffer.db")
	if _, err := prefill(bufPath, o.maxSize, b.N); err != nil {
		b.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(agentConfig(o, bufPath, "http://"+ep.addr+"/uplink", []device{newDevice(0, liveEUIByte)})), 0o600); err != nil {
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
	b.ReportAllocs()
	b.ResetTimer()
	ep.arm(time.Now(), 0, b.N)
	if err := a.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.Stop(context.Background()) }()
	var peak uint64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Minute)
	for done := false; !done; {
		select {
		case <-ep.done:
			done = true
		case <-deadline:
			b.Fatalf("endpoint got %d of %d", ep.count(), b.N)
		case <-tick.C:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak+peak/10 {
				peak = ms.HeapInuse
				writeHeapProfile(b)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func writeHeapProfile(b *testing.B) {
	if *peakHeapProfile == "" {
		return
	}
	f, err := os.Create(*peakHeapProfile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
