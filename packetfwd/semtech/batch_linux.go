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
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"edgeflow/packetfwd/gwmp"
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
	// dirty is how many headers, from the first, the last call may have
	// written (recvmmsg writes only those it fills): read sets only these
	// again. Setting all 16 for a read of one cost about 700 instructions
	// per uplink on 32-bit ARM.
	dirty int

	// Acks of the datagrams of the current batch, sent together.
	ackHdrs [batchSize]mmsghdr
	ackIovs [batchSize]unix.Iovec
	ackBufs [batchSize][gwmp.HeaderLen]byte
	nacks   int

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

// newDatagrams reads conn in batches; send is how single, the fallback,
// sends its acks.
func newDatagrams(conn *net.UDPConn, send func(netip.AddrPort, []byte) error) datagrams {
	rc, err := conn.SyscallConn()
	if err != nil {
		return newSingle(conn, send)
	}
	b := &batchConn{rc: rc, dirty: batchSize}
	b.recvFn, b.sendFn = b.recv, b.send
	for i := range b.bufs {
		b.bufs[i] = make([]byte, maxDatagram)
	}
	return b
}

// read waits for at least one datagram and returns how many it took.
func (b *batchConn) read() (int, error) {
	for i := range b.dirty {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hdrs[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: uint32(unsafe.Sizeof(b.names[i])), Iov: &b.iovs[i]}
		h.SetIovlen(1)
	}
	b.dirty = len(b.hdrs) // until the call says how many it filled
	err := b.rc.Read(b.recvFn)
	n, errno := b.n, b.errno
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	b.dirty = min(max(n, 0), len(b.hdrs))
	return n, nil
}

// datagram returns the i-th datagram of the last read and its sender.
func (b *batchConn) datagram(i int, src *netip.AddrPort) ([]byte, bool) {
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
		return nil, false
	}
	n := int(b.hdrs[i].len)
	if b.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
		n = 0 // larger than a UDP payload can be: not a datagram to trust
	}
	*src = netip.AddrPortFrom(addr, port)
	return b.bufs[i][:n], true
}

// queueAck adds an ack to the sender of datagram idx of the last read; a
// datagram has one ack at most, so there is always room.
func (b *batchConn) queueAck(idx int, ack [gwmp.HeaderLen]byte) {
	i := b.nacks
	b.ackBufs[i] = ack
	b.ackIovs[i].Base = &b.ackBufs[i][0]
	b.ackIovs[i].SetLen(4)
	h := &b.ackHdrs[i].hdr
	*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[idx])), Namelen: b.hdrs[idx].hdr.Namelen, Iov: &b.ackIovs[i]}
	h.SetIovlen(1)
	b.nacks++
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
