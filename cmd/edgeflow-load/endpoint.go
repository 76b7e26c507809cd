package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// endpoint plays the connection's HTTP endpoint: it answers after a delay,
// fails a share of requests or everything during an outage, and times each
// uplink it accepts.
type endpoint struct {
	srv      *http.Server
	addr     string
	latency  time.Duration
	failRate float64
	sch      schedule
	sentAt   func(i int) (int64, bool) // send time of live uplink i, ns since begin

	mu        sync.Mutex
	begin     time.Time
	outageEnd time.Time
	accepted  int
	failed    int
	dups      int
	seen      map[int]bool
	e2eLat    []time.Duration
	firstOK   time.Time // first accepted after the outage (or at all)
	lastOK    time.Time
	lateCount int
	done      chan struct{}
	expect    int
}

func startEndpoint(bind string, latency time.Duration, failRate float64, sch schedule) (*endpoint, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	e := &endpoint{addr: ln.Addr().String(), latency: latency, failRate: failRate, sch: sch,
		seen: make(map[int]bool), done: make(chan struct{})}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// arm starts the clock: the outage runs from begin, and done closes once
// expect uplinks were accepted.
func (e *endpoint) arm(begin time.Time, outage time.Duration, expect int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.begin, e.outageEnd, e.expect = begin, begin.Add(outage), expect
	e.checkDone()
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if e.latency > 0 {
		time.Sleep(e.latency)
	}
	now := time.Now()
	e.mu.Lock()
	if e.begin.IsZero() || now.Before(e.outageEnd) || (e.failRate > 0 && rand.Float64() < e.failRate) {
		e.failed++
		e.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	e.accept(body, now)
	e.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// accept counts one delivered document; e.mu is held.
func (e *endpoint) accept(body []byte, now time.Time) {
	e.accepted++
	if e.firstOK.IsZero() {
		e.firstOK = now
	}
	e.lastOK = now
	if bytes.Contains(body, []byte(`"Late":1`)) {
		e.lateCount++
	}
	if dev, fcnt, ok := liveKey(body); ok {
		i := e.sch.index(dev, fcnt)
		if e.seen[i] {
			e.dups++
		} else {
			e.seen[i] = true
			if ns, ok := e.sentAt(i); ok {
				e.e2eLat = append(e.e2eLat, now.Sub(e.begin)-time.Duration(ns))
			}
		}
	}
	e.checkDone()
}

// checkDone closes done once the expected uplinks arrived; e.mu is held.
func (e *endpoint) checkDone() {
	if e.expect >= 0 && e.accepted >= e.expect {
		e.expect = -1
		close(e.done)
	}
}

// expectOnly lowers the expectation to what the agent acknowledged: a
// datagram that got no PUSH_ACK may never have been taken.
func (e *endpoint) expectOnly(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.expect > n {
		e.expect = n
	}
	e.checkDone()
}

// liveKey finds the device index and FCntUp of a document from a device
// that sends over UDP, without decoding the whole JSON: the endpoint must
// cost little next to the agent it measures.
func liveKey(body []byte) (dev int, fcnt uint32, ok bool) {
	i := bytes.Index(body, []byte(`"DevEUI":"`))
	if i < 0 || len(body) < i+10+16 {
		return 0, 0, false
	}
	var eui [8]byte
	if _, err := hex.Decode(eui[:], body[i+10:i+26]); err != nil || eui[4] != liveEUIByte {
		return 0, 0, false
	}
	dev = int(eui[5])<<16 | int(eui[6])<<8 | int(eui[7])
	j := bytes.Index(body, []byte(`"FCntUp":`))
	if j < 0 {
		return 0, 0, false
	}
	k := j + 9
	for k < len(body) && body[k] >= '0' && body[k] <= '9' {
		k++
	}
	n, err := strconv.ParseUint(string(body[j+9:k]), 10, 32)
	if err != nil || n == 0 {
		return 0, 0, false
	}
	return dev, uint32(n), true
}

func (e *endpoint) close() { _ = e.srv.Close() }
