package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
func clockTicks() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return n
		}
	}
	return 100 // what Linux uses on every architecture edgeflow targets
}

// cpuTicks is utime+stime of pid (its threads included).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return u + s, nil
}

// statusKiB reads a "kB" line of /proc/PID/status (RssAnon, VmHWM, …).
func statusKiB(pid int, key string) (int64, error) {
	return keyedValue(fmt.Sprintf("/proc/%d/status", pid), key+":")
}

// writeBytes is write_bytes of /proc/PID/io: what the process caused to be
// sent to the storage layer.
func writeBytes(pid int) (int64, error) {
	return keyedValue(fmt.Sprintf("/proc/%d/io", pid), "write_bytes:")
}

func keyedValue(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, key); ok {
			fs := strings.Fields(rest)
			if len(fs) == 0 {
				break
			}
			return strconv.ParseInt(fs[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// procSnap is one reading of the counters that a load is judged by.
type procSnap struct {
	at     time.Time
	ticks  int64
	writes int64
	anon   int64 // KiB
}

func snap(pid int) (procSnap, error) {
	s := procSnap{at: time.Now()}
	var err error
	if s.ticks, err = cpuTicks(pid); err != nil {
		return s, err
	}
	if s.writes, err = writeBytes(pid); err != nil {
		return s, err
	}
	s.anon, err = statusKiB(pid, "RssAnon")
	return s, err
}

// rssSampler keeps the peak RssAnon of pid, read every 100 ms, because
// /proc has no peak of the anonymous part alone (VmHWM counts file pages
// too, and bbolt maps its file).
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	peak int64
	stop chan struct{}
	done chan struct{}
}

func startRSSSampler(pid int) *rssSampler {
	r := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *rssSampler) loop() {
	defer close(r.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if kb, err := statusKiB(r.pid, "RssAnon"); err == nil {
			r.mu.Lock()
			r.peak = max(r.peak, kb)
			r.mu.Unlock()
		}
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

// finish stops sampling and returns the peak in KiB.
func (r *rssSampler) finish() int64 {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}
