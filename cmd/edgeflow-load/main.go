package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// options are the command line; every load they describe ends by itself.
type options struct {
	agentBin    string
	bufferDir   string
	persist     string
	drainRate   int
	maxSize     string
	logLevel    string
	qemu        string
	qemuCPU     string
	icountLib   string
	icountTop   int
	icountCalls string
	pid         int
	udpAddr     string
	devices     int
	uplinks     int
	duration    time.Duration
	rate        float64
	rxpk        int
	payload     int
	window      int
	sources     int
	latency     time.Duration
	failRate    float64
	outage      time.Duration
	prefill     int
	idle        time.Duration
	settle      time.Duration
	endpoint    string
	wait        time.Duration
	jsonOut     bool
	keepBuffer  bool
	printCfg    bool
	maxProcs    int
	mergeWindow string
}

func main() {
	var o options
	flag.StringVar(&o.agentBin, "agent", "", "edgeflow binary to run (default: go build ./cmd/edgeflow into a temp dir)")
	flag.StringVar(&o.qemu, "qemu", "", "run the agent under this emulator (e.g. qemu-arm-static); the emulator process is measured")
	flag.StringVar(&o.qemuCPU, "qemu-cpu", "", "with --qemu: the CPU it emulates (-cpu), e.g. cortex-a7 as on a gateway")
	flag.StringVar(&o.icountLib, "icount", "", "with --qemu qemu-arm (not -static): the plugin scripts/qemu-icount builds; reports guest instructions per uplink, steadier than CPU time")
	flag.IntVar(&o.icountTop, "icount-top", 0, "with --icount: list the N functions with the most instructions per uplink")
	flag.StringVar(&o.icountCalls, "icount-calls", "", "with --icount-top N and an ARM agent: list the N most frequent calls per uplink to the functions this regexp matches, by caller (e.g. 'mallocgc|newobject|duffcopy')")
	flag.StringVar(&o.bufferDir, "buffer-dir", "", "directory of the agent's buffer.db (default: a temp dir)")
	flag.StringVar(&o.persist, "persist", "on-outage", "buffer.persist: on-outage or always")
	flag.IntVar(&o.drainRate, "drain-rate", 0, "delivery.drainRate, uplinks/s (0: the agent's default)")
	flag.StringVar(&o.mergeWindow, "merge-window", "", "delivery.mergeWindow, e.g. 0s (default: the agent's default)")
	flag.StringVar(&o.maxSize, "max-size", "", "buffer.maxSize, e.g. 600MiB (default: the agent's default)")
	flag.StringVar(&o.logLevel, "log-level", "info", "the agent's log.level")
	flag.IntVar(&o.pid, "pid", 0, "measure this running process instead of starting an agent (needs --udp)")
	flag.StringVar(&o.udpAddr, "udp", "", "with --pid: the UDP address to send PUSH_DATA to")
	flag.StringVar(&o.endpoint, "endpoint", "127.0.0.1:0", "address of the tool's HTTP endpoint")
	flag.IntVar(&o.devices, "devices", 100, "number of ABP devices")
	flag.IntVar(&o.uplinks, "uplinks", 20000, "uplinks to send (with --rate: unless --duration is set)")
	flag.DurationVar(&o.duration, "duration", 0, "with --rate: how long to send")
	flag.Float64Var(&o.rate, "rate", 0, "uplinks per second (0: as fast as the window allows)")
	flag.IntVar(&o.rxpk, "rxpk", 2, "rxpk (uplinks) per PUSH_DATA datagram")
	flag.IntVar(&o.payload, "payload", 12, "FRMPayload bytes per uplink (sets the datagram size)")
	flag.IntVar(&o.window, "window", 64, "PUSH_DATA datagrams in flight (awaiting their PUSH_ACK)")
	flag.IntVar(&o.sources, "sources", 1, "UDP sockets the datagrams are spread over (the agent rate-limits each source: packetForwarder.udp.rateLimit)")
	flag.DurationVar(&o.latency, "endpoint-latency", 0, "the endpoint's answer delay")
	flag.Float64Var(&o.failRate, "fail-rate", 0, "share of requests the endpoint answers 503 (0..1)")
	flag.DurationVar(&o.outage, "outage", 0, "the endpoint answers 503 for this long from the start, then recovers")
	flag.IntVar(&o.prefill, "prefill", 0, "write this many uplinks into the buffer before starting the agent (backlog drain)")
	flag.DurationVar(&o.idle, "idle", 0, "after the load, measure idle CPU for this long")
	flag.DurationVar(&o.settle, "settle", 0, "after the load, wait this long before reading the buffer file size (compaction)")
	flag.DurationVar(&o.wait, "wait", 10*time.Minute, "longest wait for the endpoint to receive every uplink")
	flag.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	flag.BoolVar(&o.keepBuffer, "keep-buffer", false, "keep the temp dir (buffer, config, agent log)")
	flag.IntVar(&o.maxProcs, "gomaxprocs", 0, "GOMAXPROCS of the agent only (1: as on a single-core gateway)")
	flag.BoolVar(&o.printCfg, "print-config", false, "print the agent configuration for --devices, --endpoint and --buffer-dir, and exit (to start an agent to measure with --pid)")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "edgeflow-load:", err)
		os.Exit(2)
	}
	if o.printCfg {
		devs := make([]device, o.devices)
		for i := range devs {
			devs[i] = newDevice(i, liveEUIByte)
		}
		fmt.Print(agentConfig(o, filepath.Join(o.bufferDir, "buffer.db"), "http://"+o.endpoint+"/uplink", devs))
		return
	}
	rep, err := run(o)
	if rep != nil {
		if o.jsonOut {
			rep.printJSON(os.Stdout)
		} else {
			rep.print(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgeflow-load:", err)
		os.Exit(1)
	}
}

func (o *options) check() error {
	switch {
	case o.icountLib != "" && (o.qemu == "" || o.pid != 0):
		return fmt.Errorf("--icount needs --qemu (a qemu that loads plugins, e.g. qemu-arm) and an agent it starts")
	case o.icountCalls != "" && o.icountTop == 0:
		return fmt.Errorf("--icount-calls needs --icount-top N (how many calls to list)")
	case o.icountTop > 0 && (o.icountLib == "" || o.agentBin == ""):
		return fmt.Errorf("--icount-top needs --icount and --agent (the binary whose symbols name the functions)")
	case o.pid != 0 && o.udpAddr == "":
		return fmt.Errorf("--pid needs --udp")
	case o.devices < 1 || o.rxpk < 1 || o.window < 1 || o.sources < 1:
		return fmt.Errorf("--devices, --rxpk, --window and --sources must be at least 1")
	case o.rxpk > o.devices:
		return fmt.Errorf("--rxpk %d > --devices %d: a datagram would hold the same frame twice (deduplicated)", o.rxpk, o.devices)
	case o.payload < 1 || o.payload > 200:
		return fmt.Errorf("--payload must be 1..200 bytes")
	case o.failRate < 0 || o.failRate >= 1:
		return fmt.Errorf("--fail-rate must be in [0, 1)")
	case o.persist != "on-outage" && o.persist != "always":
		return fmt.Errorf("--persist must be on-outage or always")
	case o.rate > 0 && o.duration > 0:
		o.uplinks = int(o.rate * o.duration.Seconds())
	}
	if o.uplinks < 0 {
		return fmt.Errorf("--uplinks must not be negative")
	}
	return nil
}
