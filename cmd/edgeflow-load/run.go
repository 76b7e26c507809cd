package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// linger is how long after the last delivery the counters are read, so
// that work the agent defers (batched deletes wait a second to share a
// commit) is counted against the load that caused it.
const linger = 2 * time.Second

// run performs one load and returns its report.
func run(o options) (*report, error) {
	dir, err := os.MkdirTemp("", "edgeflow-load")
	if err != nil {
		return nil, err
	}
	if o.keepBuffer {
		fmt.Fprintln(os.Stderr, "edgeflow-load: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	sch := schedule{devices: o.devices}
	devs := make([]device, o.devices)
	for i := range devs {
		devs[i] = newDevice(i, liveEUIByte)
	}
	ep, err := startEndpoint(o.endpoint, o.latency, o.failRate, sch)
	if err != nil {
		return nil, err
	}
	defer ep.close()
	dgrams, err := buildDatagrams(devs, sch, o.uplinks, o.rxpk, o.payload)
	if err != nil {
		return nil, err
	}
	rep := &report{PID: o.pid, Persist: o.persist, Devices: o.devices, Uplinks: o.uplinks, Prefilled: o.prefill, Sources: o.sources,
		RxpkPerDgram: o.rxpk, Window: o.window, Rate: o.rate, OutageMs: ms(o.outage)}
	if len(dgrams) > 0 {
		rep.DatagramBytes = len(dgrams[0])
	}

	pid, udp := o.pid, o.udpAddr
	var ag *agentProc
	var bufPath string
	if pid == 0 {
		if ag, bufPath, err = launch(o, dir, ep, devs, rep); err != nil {
			return nil, err
		}
		defer ag.kill()
		pid, udp = ag.pid(), ag.udpAddr
		rep.PID = pid
	} else {
		rep.Agent = fmt.Sprintf("external process %d", pid)
	}

	fw, err := newForwarder(udp, o.sources, o.window, o.rate, o.rxpk, o.uplinks)
	if err != nil {
		return rep, err
	}
	ep.sentAt = func(i int) (int64, bool) {
		if i < 0 || i >= len(fw.sent) {
			return 0, false
		}
		ns := fw.sent[i].Load()
		return ns, ns != 0
	}
	before, err := snap(pid)
	if err != nil {
		return rep, err
	}
	ic := icount{path: icountPath(dir)}
	var icBefore icountSnap
	if o.icountLib != "" {
		if icBefore, err = ic.snap(); err != nil {
			return rep, err
		}
	}
	rss := startRSSSampler(pid)
	begin := time.Now()
	expect := o.uplinks + o.prefill
	waitEndpoint := o.pid == 0 || o.endpoint != "127.0.0.1:0"
	if !waitEndpoint {
		expect = 0 // nothing is configured to deliver to this endpoint
	}
	ep.arm(begin, o.outage, expect)
	fw.run(dgrams, begin)
	if waitEndpoint {
		fw.mu.Lock()
		ep.expectOnly(min(fw.acked*o.rxpk, o.uplinks) + o.prefill)
		fw.mu.Unlock()
	}
	select {
	case <-ep.done:
	case <-time.After(o.wait):
		err = fmt.Errorf("the endpoint got %d of %d uplinks within --wait %v", ep.count(), expect, o.wait)
	}
	time.Sleep(linger)
	after, serr := snap(pid)
	rep.AnonPeakKiB = rss.finish()
	if serr != nil {
		return rep, serr
	}
	fill(rep, o, fw, ep, before, after, begin)
	if o.icountLib != "" {
		if err := fillICount(rep, o, ic, icBefore); err != nil {
			return rep, err
		}
	}
	if bufPath != "" {
		rep.BufferBytes = fileSize(bufPath)
		if o.settle > 0 {
			time.Sleep(o.settle)
		}
		rep.BufferAfter = fileSize(bufPath)
	}
	if o.idle > 0 {
		idleCPU(rep, pid, o.idle)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if ag != nil {
		rep.AgentWarns = ag.warnings()
		if serr := ag.stop(); serr != nil && err == nil {
			err = serr
		}
	}
	return rep, err
}

// launch builds or takes the agent, prefills its buffer, writes its
// configuration and starts it.
func launch(o options, dir string, ep *endpoint, devs []device, rep *report) (*agentProc, string, error) {
	bin := o.agentBin
	if bin == "" {
		var err error
		if bin, err = buildAgent(dir); err != nil {
			return nil, "", err
		}
	}
	rep.Agent = bin
	emulator := o.qemu
	if emulator != "" && o.qemuCPU != "" {
		emulator += " -cpu " + o.qemuCPU
	}
	if o.icountLib != "" {
		lib, err := filepath.Abs(o.icountLib)
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(filepath.Dir(icountPath(dir)), 0o755); err != nil {
			return nil, "", err
		}
		emulator += " -plugin " + lib + ",out=" + icountPath(dir)
	}
	if emulator != "" {
		rep.Agent = emulator + " " + bin
	}
	bufDir := o.bufferDir
	if bufDir == "" {
		bufDir = dir
	}
	bufPath := filepath.Join(bufDir, "buffer.db")
	if o.prefill > 0 {
		took, err := prefill(bufPath, o.maxSize, o.prefill)
		if err != nil {
			return nil, "", err
		}
		rep.PrefillSecs = took.Seconds()
	}
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	cfg := agentConfig(o, bufPath, "http://"+ep.addr+"/uplink", devs)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, "", err
	}
	ag, err := startAgent(bin, emulator, cfgPath, dir, o.maxProcs)
	return ag, bufPath, err
}

func fill(rep *report, o options, fw *forwarder, ep *endpoint, before, after procSnap, begin time.Time) {
	hz := float64(clockTicks())
	fw.mu.Lock()
	rep.Acked, rep.Unacked = fw.acked, fw.unacked
	rep.AckLat = percentiles(fw.ackLat)
	if d := fw.lastAck.Sub(begin).Seconds(); d > 0 {
		rep.AckRate = float64(min(fw.acked*o.rxpk, o.uplinks)) / d
	}
	fw.mu.Unlock()
	ep.mu.Lock()
	rep.Delivered, rep.Duplicates, rep.Refused, rep.Late = ep.accepted, ep.dups, ep.failed, ep.lateCount
	rep.E2ELat = percentiles(ep.e2eLat)
	end := ep.lastOK
	if end.IsZero() {
		end = fw.lastAck
	}
	rep.ElapsedSecs = end.Sub(begin).Seconds()
	if rep.ElapsedSecs > 0 {
		rep.E2ERate = float64(ep.accepted) / rep.ElapsedSecs
	}
	if (o.outage > 0 || o.prefill > 0) && ep.lastOK.After(ep.firstOK) {
		rep.DrainRate = float64(ep.accepted) / ep.lastOK.Sub(ep.firstOK).Seconds()
		rep.DrainDelayMs = ms(ep.firstOK.Sub(ep.outageEnd))
	}
	ep.mu.Unlock()
	n := float64(max(rep.Delivered, rep.Acked*o.rxpk))
	if o.pid != 0 && rep.Delivered == 0 {
		n = float64(min(rep.Acked*o.rxpk, o.uplinks))
	}
	cpu := float64(after.ticks-before.ticks) / hz
	if n > 0 {
		rep.CPUMicros = cpu * 1e6 / n
		rep.WrittenPerUp = float64(after.writes-before.writes) / n
	}
	if d := after.at.Sub(before.at).Seconds(); d > 0 {
		rep.CPUPercent = cpu / d * 100
	}
	rep.WrittenBytes = after.writes - before.writes
	rep.AnonStartKiB, rep.AnonEndKiB = before.anon, after.anon
	rep.AnonPeakKiB = max(rep.AnonPeakKiB, before.anon, after.anon)
}

func idleCPU(rep *report, pid int, d time.Duration) {
	a, err := snap(pid)
	if err != nil {
		return
	}
	time.Sleep(d)
	b, err := snap(pid)
	if err != nil {
		return
	}
	secs := b.at.Sub(a.at).Seconds()
	rep.IdleSecs = secs
	rep.IdleCPU = float64(b.ticks-a.ticks) / float64(clockTicks()) / secs * 100
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (e *endpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

// icountPath is where the plugin writes its counters, every 100 ms through
// a rename: in a directory of its own, since the agent watches the one
// that holds its configuration, and each of those renames there woke it.
func icountPath(dir string) string { return filepath.Join(dir, "icount.d", "icount") }
