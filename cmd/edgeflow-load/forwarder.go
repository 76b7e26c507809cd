package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ackTimeout is how long a PUSH_DATA may wait for its PUSH_ACK before its
// window slot is taken back and it counts as unacknowledged (a real
// forwarder does not retransmit either).
const ackTimeout = 2 * time.Second

// forwarder plays the packet forwarder: a window of datagrams awaiting
// their PUSH_ACK, optionally paced to a rate. A real forwarder pushes from
// one socket; several sockets (--sources) exist because the agent limits
// each source to 200 datagrams/s, and the reference load (2 rxpk per
// datagram, as fast as acknowledged) needs far more.
type forwarder struct {
	conns  []*net.UDPConn
	window int
	rate   float64 // uplinks/s; 0 sends as fast as the window allows
	rxpk   int

	// sent[i] is when the datagram holding uplink i left, in ns since the
	// load began (the reception→endpoint latency starts there); the
	// endpoint reads it from its own goroutines.
	sent  []atomic.Int64
	begin time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	inflight map[uint16]time.Time
	ackLat   []time.Duration
	unacked  int
	acked    int // datagrams
	lastAck  time.Time
}

func newForwarder(addr string, sources, window int, rate float64, rxpk, uplinks int) (*forwarder, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	var conns []*net.UDPConn
	for range sources {
		c, err := net.DialUDP("udp", nil, ua)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	f := &forwarder{conns: conns, window: window, rate: rate, rxpk: rxpk, sent: make([]atomic.Int64, uplinks),
		inflight: make(map[uint16]time.Time, window)}
	f.cond = sync.NewCond(&f.mu)
	return f, nil
}

// run sends every datagram and returns once each is acknowledged or timed
// out.
func (f *forwarder) run(dgrams [][]byte, begin time.Time) {
	f.begin = begin
	acks := make(chan struct{})
	for _, c := range f.conns {
		go f.readAcks(c, acks)
	}
	stale := time.NewTicker(ackTimeout / 4)
	defer stale.Stop()
	go f.expire(stale.C, acks)
	for i, d := range dgrams {
		if f.rate > 0 {
			due := begin.Add(time.Duration(float64(i*f.rxpk) / f.rate * float64(time.Second)))
			if w := time.Until(due); w > 0 {
				time.Sleep(w)
			}
		}
		tok := uint16(i)
		f.mu.Lock()
		for len(f.inflight) >= f.window {
			f.cond.Wait()
		}
		now := time.Now()
		f.inflight[tok] = now
		f.mu.Unlock()
		ns := int64(now.Sub(begin))
		for j := i * f.rxpk; j < min((i+1)*f.rxpk, len(f.sent)); j++ {
			f.sent[j].Store(ns)
		}
		setToken(d, tok)
		if _, err := f.conns[i%len(f.conns)].Write(d); err != nil {
			f.mu.Lock()
			delete(f.inflight, tok)
			f.unacked++
			f.mu.Unlock()
		}
	}
	f.mu.Lock()
	for len(f.inflight) > 0 {
		f.cond.Wait()
	}
	f.mu.Unlock()
	close(acks)
	for _, c := range f.conns {
		c.Close()
	}
}

func (f *forwarder) readAcks(c *net.UDPConn, stop <-chan struct{}) {
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if err != nil {
			select {
			case <-stop:
				return
			default:
			}
			continue // ECONNREFUSED while the agent is not there yet
		}
		if n != 4 || buf[3] != 0x01 {
			continue
		}
		now := time.Now()
		tok := uint16(buf[1])<<8 | uint16(buf[2])
		f.mu.Lock()
		if t, ok := f.inflight[tok]; ok {
			delete(f.inflight, tok)
			f.ackLat = append(f.ackLat, now.Sub(t))
			f.acked++
			f.lastAck = now
			f.cond.Broadcast()
		}
		f.mu.Unlock()
	}
}

// expire takes back the window slots of datagrams whose PUSH_ACK never
// came, so a lost datagram cannot stall the load.
func (f *forwarder) expire(tick <-chan time.Time, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case now := <-tick:
			f.mu.Lock()
			for tok, t := range f.inflight {
				if now.Sub(t) > ackTimeout {
					delete(f.inflight, tok)
					f.unacked++
				}
			}
			f.cond.Broadcast()
			f.mu.Unlock()
		}
	}
}
