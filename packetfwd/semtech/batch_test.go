package semtech

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/internal/testkit"

	"edgeflow/radio"
)

// Datagrams that queue while the server works are read and acked in
// batches; every PUSH_ACK must still go to the socket its PUSH_DATA came
// from, with its token, and every frame must reach the handler, whether the
// server's socket is IPv4 or dual-stack (IPv4 senders seen as mapped).
func TestBatchedDatagramsAckedToTheirSenders(t *testing.T) {
	for _, bind := range []string{"127.0.0.1:0", "[::]:0"} {
		t.Run(bind, func(t *testing.T) {
			var frames atomic.Int64
			slow := make(chan struct{}) // holds the handler so datagrams queue
			srv := listen(t, Config{Bind: bind}, radio.HandlerFunc(func(_ context.Context, f []radio.Frame) error {
				<-slow
				frames.Add(int64(len(f)))
				return nil
			}), nil, nil)
			defer serve(t, srv)()
			port := srv.conn.LocalAddr().(*net.UDPAddr).Port
			dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			phy := testkit.NewDevice(1).Up(t, 1, 1, []byte{1})
			const senders, each = 8, 12 // within the socket buffer while the handler holds
			socks := make([]*net.UDPConn, senders)
			for i := range socks {
				c, err := net.DialUDP("udp", nil, dst)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				socks[i] = c
				for j := range each {
					if _, err := c.Write(testkit.PushData(t, 2, uint16(i<<8|j), testkit.NewRxpk(phy, -50, 5, ""))); err != nil {
						t.Fatal(err)
					}
				}
			}
			close(slow)
			for i, c := range socks {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 64)
				for j := range each {
					n, err := c.Read(buf)
					if err != nil {
						t.Fatalf("sender %d: ack %d: %v", i, j, err)
					}
					if n != 4 || buf[3] != 1 || binary.BigEndian.Uint16(buf[1:3]) != uint16(i<<8|j) {
						t.Fatalf("sender %d got % x as ack %d, want its token %04x", i, buf[:n], j, i<<8|j)
					}
				}
			}
			testkit.WaitUntil(t, "the frames at the handler", func() bool { return frames.Load() >= senders*each })
			if frames.Load() != senders*each {
				t.Fatalf("handler got %d frames, want %d", frames.Load(), senders*each)
			}
		})
	}
}

// Both read paths, batches and one datagram at a time, behave alike: a
// PUSH_ACK only after the handler took the frames, none when it failed, a
// PULL_ACK at once, and a PUSH_DATA with a bad body acked and dropped.
func TestReadPathsAlike(t *testing.T) {
	for name, newIn := range map[string]func(*net.UDPConn, func(netip.AddrPort, []byte) error) datagrams{
		"platform": nil,
		"single":   func(c *net.UDPConn, send func(netip.AddrPort, []byte) error) datagrams { return newSingle(c, send) },
	} {
		t.Run(name, func(t *testing.T) {
			var fail atomic.Bool
			h := newHarnessOn(t, Config{}, func([]radio.Frame) error {
				if fail.Load() {
					return errors.New("buffer full")
				}
				return nil
			}, newIn)
			h.send(h.push, pkt(2, "0001", 0, "aa555a0000000101", p1JSON))
			h.expect(h.push, mustHex("02000101"))
			if f := h.nextFrames(); len(f) != 1 {
				t.Fatalf("frames %+v", f)
			}
			fail.Store(true)
			h.send(h.push, pkt(2, "0002", 0, "aa555a0000000101", p1JSON))
			h.sync()
			fail.Store(false)
			h.send(h.push, pkt(2, "0003", 0, "aa555a0000000101", `{"rxpk":`))
			h.expect(h.push, mustHex("02000301")) // the refused one got none
			h.noFrames()
			if got := h.counter("edgeflow_udp_handler_errors_total"); got != 1 {
				t.Errorf("handler errors %d", got)
			}
			if got := h.counter(`edgeflow_udp_dropped_total{reason="bad_json"}`); got != 1 {
				t.Errorf("bad_json drops %d", got)
			}
		})
	}
}
