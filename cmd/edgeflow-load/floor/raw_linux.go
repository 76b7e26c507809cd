//go:build linux

package main

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawUDP reads a datagram and answers its sender with non-blocking
// recvfrom and sendto made with RawSyscall, as the agent's PUSH_DATA path
// does (packetfwd/semtech/batch_linux.go): no runtime bookkeeping around
// the calls, the netpoller only for waiting.
type rawUDP struct {
	rc       syscall.RawConn
	buf, out []byte
	from     syscall.RawSockaddrAny
	fromLen  uint32
	n        int
	errno    syscall.Errno
	readFn   func(fd uintptr) bool
	writeFn  func(fd uintptr) bool
}

func newRawUDP(pc net.PacketConn) (datagrams, error) {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return newPlainUDP(pc), nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &rawUDP{rc: rc}
	r.readFn, r.writeFn = r.recv, r.send
	return r, nil
}

func (r *rawUDP) recv(fd uintptr) bool {
	r.fromLen = uint32(unsafe.Sizeof(r.from))
	n, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&r.fromLen)))
	if e == syscall.EAGAIN {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

func (r *rawUDP) send(fd uintptr) bool {
	_, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&r.out[0])), uintptr(len(r.out)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&r.from)), uintptr(r.fromLen))
	r.errno = e
	return e != syscall.EAGAIN
}

func (r *rawUDP) read(buf []byte) (int, error) {
	r.buf = buf
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

func (r *rawUDP) reply(b []byte) error {
	r.out = b
	if err := r.rc.Write(r.writeFn); err != nil {
		return err
	}
	if r.errno != 0 {
		return r.errno
	}
	return nil
}
