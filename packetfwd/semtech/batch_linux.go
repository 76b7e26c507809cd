//go:build linux

package semtech

// Datagrams and their acks in batches (recvmmsg, sendmmsg): under load one
// system call carries the datagrams that queued while the agent worked,
// and one more their PUSH_ACKs, where a recvfrom and a sendto per datagram
// were the largest share of the agent's CPU per uplink on a gateway. Both
// are MSG_DONTWAIT calls made with RawSyscall: they never block, and the
// runtime's syscall bookkeeping would wake its monitor thread, which then
// polls every 20 µs for a while (waiting is the netpoller's, via RawConn).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/brocaar/lorawan"
	"golang.org/x/sys/unix"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
)

// batchSize is how many datagrams one read takes at most. 16 buffers of
// 64 KiB are reserved, but only the pages a datagram fills become resident.
const batchSize = 16

// mmsghdr is struct mmsghdr; Go lays it out as C does on every target
// (the struct is aligned as its Msghdr, 32- or 64-bit).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

type batchConn struct {
	rc    syscall.RawConn
	hdrs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6 // large enough for both families
	bufs  [batchSize][]byte

	// Acks of the datagrams of the current batch, sent together.
	ackHdrs [batchSize]mmsghdr
	ackIovs [batchSize]unix.Iovec
	ackBufs [batchSize][4]byte
	nacks   int
	cur     int // the datagram being handled, whose sender an ack goes to

	// The calls' state and callbacks, made once: a closure per call would
	// be an allocation per batch.
	n              int
	errno          syscall.Errno
	sent           int
	recvFn, sendFn func(fd uintptr) bool
}

func (b *batchConn) recv(fd uintptr) bool {
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
	b.n, b.errno = int(r), e
	return e != syscall.EAGAIN
}

func (b *batchConn) send(fd uintptr) bool {
	r, _, e := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.ackHdrs[b.sent])), uintptr(b.nacks-b.sent), unix.MSG_DONTWAIT, 0, 0)
	b.n, b.errno = int(r), e
	return e != syscall.EAGAIN
}

func newBatchConn(conn *net.UDPConn) (*batchConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchConn{rc: rc, cur: -1}
	b.recvFn, b.sendFn = b.recv, b.send
	for i := range b.bufs {
		b.bufs[i] = make([]byte, maxDatagram)
	}
	return b, nil
}

// read waits for at least one datagram and returns how many it took.
func (b *batchConn) read() (int, error) {
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hdrs[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: uint32(unsafe.Sizeof(b.names[i])), Iov: &b.iovs[i]}
		h.SetIovlen(1)
	}
	err := b.rc.Read(b.recvFn)
	n, errno := b.n, b.errno
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

// datagram returns the i-th datagram of the last read and its sender.
func (b *batchConn) datagram(i int) ([]byte, netip.AddrPort, bool) {
	sa := &b.names[i]
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(p[0])<<8 | uint16(p[1])
	var addr netip.Addr
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		addr = netip.AddrFrom4(sa4.Addr)
	case unix.AF_INET6:
		addr = netip.AddrFrom16(sa.Addr)
	default:
		return nil, netip.AddrPort{}, false
	}
	n := int(b.hdrs[i].len)
	if b.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
		n = 0 // larger than a UDP payload can be: not a datagram to trust
	}
	return b.bufs[i][:n], netip.AddrPortFrom(addr, port), true
}

// queueAck adds an ack to the sender of the datagram being handled; false
// when no batch datagram is being handled (send it alone).
func (b *batchConn) queueAck(ack [4]byte) bool { return b.queueAckTo(b.cur, ack) }

// queueAckTo adds an ack to the sender of datagram idx of the last read.
func (b *batchConn) queueAckTo(idx int, ack [4]byte) bool {
	if idx < 0 || b.nacks == batchSize {
		return false
	}
	i := b.nacks
	b.ackBufs[i] = ack
	b.ackIovs[i].Base = &b.ackBufs[i][0]
	b.ackIovs[i].SetLen(4)
	h := &b.ackHdrs[i].hdr
	*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[idx])), Namelen: b.hdrs[idx].hdr.Namelen, Iov: &b.ackIovs[i]}
	h.SetIovlen(1)
	b.nacks++
	return true
}

// flushAcks sends the queued acks; it returns how many could not be sent
// and the first error.
func (b *batchConn) flushAcks() (failed int, first error) {
	sent := 0
	for sent < b.nacks {
		b.sent = sent
		err := b.rc.Write(b.sendFn)
		n, errno := b.n, b.errno
		switch {
		case err != nil:
			failed, first = failed+b.nacks-sent, err
			sent = b.nacks
		case errno != 0:
			// The first ack of the rest failed (its sender's address, say):
			// skip it, send the others.
			failed++
			if first == nil {
				first = errno
			}
			sent++
		default:
			sent += n
		}
	}
	b.nacks = 0
	return failed, first
}

// batchUnsupported tells a kernel without recvmmsg/sendmmsg (before 3.0).
func batchUnsupported(err error) bool { return errors.Is(err, syscall.ENOSYS) }

// ackHold bounds how long an ack waits for the rest of its batch: with
// persist "always" each datagram's handler waits for flash, and the first
// datagram's ack must not wait for the commits of the fifteen behind it.
const ackHold = time.Millisecond

// readBatches is the read loop with batches; false when the kernel has no
// recvmmsg, and the caller reads one datagram at a time.
func (r *reader) readBatches(ctx context.Context, conn *net.UDPConn) bool {
	s := r.s
	b, err := newBatchConn(conn)
	if err != nil {
		return false
	}
	r.batch = b
	defer func() { r.batch = nil }()
	for {
		n, err := b.read()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return true
			}
			if batchUnsupported(err) {
				s.logger.Info("The kernel has no recvmmsg: reading one datagram at a time")
				return false
			}
			s.logger.Error("Failed to read UDP datagrams", "error", err)
			select {
			case <-s.done:
				return true
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		start := time.Now()
		for i := range n {
			buf, src, ok := b.datagram(i)
			if !ok {
				continue
			}
			src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			if reason := s.policy.admit(src, s.now()); reason != "" {
				s.refuse(reason, src)
				continue
			}
			b.cur = i
			r.handleDatagram(ctx, buf, src)
			b.cur = -1
			if b.nacks > 0 && time.Since(start) > ackHold {
				r.flushAcks()
			}
		}
		r.handleDeferred(ctx)
		r.flushAcks()
	}
}

// deferredPush is a PUSH_DATA of the current batch whose frames wait for
// the batch's one handler call, and whose ack waits for its outcome.
type deferredPush struct {
	idx    int // the datagram in the batch: its sender gets the ack
	ack    [4]byte
	src    netip.AddrPort
	gw     lorawan.EUI64
	frames int
}

// deferPush keeps a PUSH_DATA's frames for the batch's handler call; false
// outside a batch (handle it now). One call for the batch lets the agent
// decode the copies of a frame from several gateways together and, with
// persist "always", commit the batch's uplinks in one transaction: one
// fdatasync and one PUSH_ACK wait for all of them instead of one each.
func (r *reader) deferPush(b []byte, src netip.AddrPort, gw lorawan.EUI64, frames []radio.Frame) bool {
	if r.batch == nil || r.batch.cur < 0 {
		return false
	}
	r.deferredFrames = append(r.deferredFrames, frames...)
	r.deferred = append(r.deferred, deferredPush{idx: r.batch.cur, ack: [4]byte{b[0], b[1], b[2], byte(gwmp.PushAck)},
		src: src, gw: gw, frames: len(frames)})
	return true
}

// handleDeferred hands the batch's frames to the handler, then acks their
// datagrams, or none of them if it failed.
func (r *reader) handleDeferred(ctx context.Context) {
	s := r.s
	if len(r.deferred) == 0 {
		return
	}
	frames := r.deferredFrames
	r.deferredFrames = nil // the handler may keep them
	err := s.callHandler(ctx, frames)
	for _, d := range r.deferred {
		if errors.Is(err, errHandlerPanic) {
			continue // counted and logged once, as a panic
		}
		if err != nil {
			s.metrics.handlerErrors.Inc()
			s.rlog.Warn(d.src, "Frames not taken, PUSH_DATA not acknowledged",
				"gateway_eui", strings.ToUpper(d.gw.String()), "frames", d.frames, "error", err.Error())
			continue
		}
		if r.batch.queueAckTo(d.idx, d.ack) {
			s.metrics.pushAcks.Inc()
		}
	}
	clear(r.deferred)
	r.deferred = r.deferred[:0]
}

var errHandlerPanic = errors.New("the frame handler panicked")

// callHandler is HandleFrames outside handleDatagram's recover: a panic
// loses the batch's acks (the forwarder counts them), not the agent.
func (s *Server) callHandler(ctx context.Context, frames []radio.Frame) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.metrics.drop("panic")
			s.logger.Error("Recovered from panic while handling frames", "panic", fmt.Sprint(r))
			err = errHandlerPanic
		}
	}()
	return s.handler.HandleFrames(ctx, frames)
}

func (r *reader) flushAcks() {
	s := r.s
	failed, err := r.batch.flushAcks()
	if failed > 0 {
		s.metrics.sendErrors.Add(failed)
		if !s.isClosed() {
			// One rate-limited line for all senders (no single peer to name).
			s.rlog.Warn(netip.AddrPort{}, "Failed to send acks", "count", failed, "error", err.Error())
		}
	}
}
