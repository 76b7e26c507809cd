package semtech

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
)

// datagrams is the socket as the read loop sees it: a batch of datagrams
// in, then their acks out. On Linux batchConn takes up to batchSize per
// read (recvmmsg, sendmmsg; batch_linux.go); single takes one, elsewhere
// and on a kernel without recvmmsg.
type datagrams interface {
	// read waits for at least one datagram and returns how many it took.
	read() (int, error)
	// datagram returns the i-th datagram of the last read and stores its
	// sender in src (a pointer: on 32-bit ARM an AddrPort, 24 bytes, is
	// copied by a runtime call); false when the sender is no IP address.
	// b is valid until the next read.
	datagram(i int, src *netip.AddrPort) (b []byte, ok bool)
	// queueAck queues an ack to the sender of datagram i.
	queueAck(i int, ack [gwmp.HeaderLen]byte)
	// flushAcks sends the queued acks and returns how many could not be
	// sent and the first error.
	flushAcks() (failed int, first error)
}

// reader is the state of the goroutine that reads the socket: buffers
// reused across datagrams and the batch being handled. The read loop makes
// it and keeps it to itself (the server holds no reference), so nothing
// else can touch it while datagrams are handled; a test that wants the
// datagram path without a socket makes a reader of its own.
type reader struct {
	s    *Server
	in   datagrams
	push gwmp.PushDataPacket

	// The batch's frames, handed over in one call, and the PUSH_DATA whose
	// acks wait for it.
	frames  []radio.Frame
	pending []pendingPush
	// The datagram being parsed, for the panic's log line; nil outside.
	cur    []byte
	curSrc netip.AddrPort
	// now is the agent's clock when the datagram was taken up. The hot
	// path passes it and curSrc by pointer: copies of time.Time and
	// AddrPort cost about 65 runtime calls per uplink on 32-bit ARM.
	now time.Time
	// rates caches the frames' last data rate.
	rates loraRates
}

// pendingPush is a PUSH_DATA of the batch whose ack waits for the handler.
type pendingPush struct {
	i      int // the datagram in the batch: its sender gets the ack
	ack    [gwmp.HeaderLen]byte
	src    netip.AddrPort
	gw     lorawan.EUI64
	frames int
}

func newReader(s *Server, in datagrams) *reader { return &reader{s: s, in: in} }

// run reads and handles batches until the socket is closed.
func (r *reader) run(ctx context.Context) {
	s := r.s
	for {
		n, err := r.in.read()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			if batchUnsupported(err) {
				s.logger.Info("The kernel has no recvmmsg: reading one datagram at a time")
				r.in = newSingle(s.conn, s.SendTo)
				continue
			}
			s.logger.Error("Failed to read UDP datagrams", "error", err)
			// Do not spin if the error persists.
			select {
			case <-s.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		r.handleBatch(ctx, n)
	}
}

// handleBatch handles the n datagrams of one read: each is admitted by the
// source policy, parsed, relayed, and its ack queued or, for a PUSH_DATA
// with frames, held; the batch's frames then go to the handler in one
// call, and only if it took them are the held PUSH_ACKs queued. One call
// lets the agent decode the copies of a frame from several gateways
// together and, with persist "always", commit the batch's uplinks in one
// transaction: one fdatasync and one PUSH_ACK wait for all of them instead
// of one each.
func (r *reader) handleBatch(ctx context.Context, n int) {
	s := r.s
	defer r.endBatch()
	src := &r.curSrc
	for i := range n {
		r.cur = nil
		b, ok := r.in.datagram(i, src)
		if !ok {
			continue
		}
		if src.Addr().Is4In6() {
			*src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		}
		r.now = s.now()
		if reason := s.policy.admit(src, &r.now); reason != "" {
			s.refuse(reason, *src)
			continue
		}
		r.cur = b
		r.handleDatagram(i, b, src)
	}
	r.cur, r.curSrc = nil, netip.AddrPort{}
	if len(r.pending) == 0 {
		return
	}
	// All the batch's acks go after the handler, PULL_ACKs too: an ack
	// then tells that the datagrams before it are done.
	err := s.handler.HandleFrames(ctx, r.frames)
	r.frames = nil // the handler may keep them
	for k := range r.pending {
		p := &r.pending[k]
		if err != nil {
			s.metrics.handlerErrors.Inc()
			s.rlog.Warn(p.src, "Frames not taken, PUSH_DATA not acknowledged",
				"gateway_eui", strings.ToUpper(p.gw.String()), "frames", p.frames, "error", err.Error())
			continue
		}
		r.in.queueAck(p.i, p.ack)
		s.metrics.pushAcks.Inc()
	}
}

// endBatch sends the batch's acks and clears it for the next. It holds the
// loop's one recover: a panic (a bug) while handling a batch costs the
// PUSH_ACKs held for the handler, which the forwarder counts, and not the
// agent; the acks queued before it still go.
func (r *reader) endBatch() {
	s := r.s
	if v := recover(); v != nil {
		s.metrics.drop("panic")
		args := []any{"panic", fmt.Sprint(v)}
		if r.cur != nil {
			args = append(args, "data", quoteData(r.cur))
		}
		s.rlog.Warn(r.curSrc, "Recovered from panic while handling datagrams", args...)
		r.cur, r.curSrc = nil, netip.AddrPort{}
	}
	r.flushAcks()
	clear(r.pending)
	r.pending = r.pending[:0]
	r.frames = nil
	// One datagram with thousands of rxpk must not pin their memory.
	if cap(r.push.Payload.RXPK) > maxKeptRXPK {
		r.push.Payload.RXPK = nil
	}
}

// ack queues an ack echoing the version and token of datagram i.
func (r *reader) ack(i int, b []byte, t gwmp.Type) {
	r.in.queueAck(i, [gwmp.HeaderLen]byte{b[0], b[1], b[2], byte(t)})
}

func (r *reader) flushAcks() {
	s := r.s
	failed, err := r.in.flushAcks()
	if failed > 0 {
		s.metrics.sendErrors.Add(failed)
		if !s.isClosed() {
			// One rate-limited line for all senders (no single peer to name).
			s.rlog.Warn(netip.AddrPort{}, "Failed to send acks", "count", failed, "error", err.Error())
		}
	}
}
