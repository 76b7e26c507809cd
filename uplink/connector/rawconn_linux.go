//go:build linux

package connector

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawTCP reads and writes its non-blocking socket with RawSyscall. The
// runtime's bookkeeping around a syscall (entersyscall) wakes its monitor
// thread when every P was idle, and that thread then polls every 20 µs
// for a while: on a gateway, a third of the agent's CPU under load went to
// those wakeups. A read or write of a non-blocking socket returns at once,
// so it needs none of that; waiting for the socket is still the netpoller's
// (RawConn), with deadlines.
type rawTCP struct {
	*net.TCPConn
	rc syscall.RawConn
	// The calls' state, and the callbacks made once: a closure per call
	// would be an allocation per read and write.
	rp, wp       []byte
	rn, wn       int
	rerr, werr   syscall.Errno
	readFn, wrFn func(fd uintptr) bool
}

// NewRawTCP wraps a TCP connection in rawTCP; other connections are
// returned as they are. Exported for cmd/edgeflow-load/floor, which
// measures against the agent's own socket path.
func NewRawTCP(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawTCP{TCPConn: tc, rc: rc}
	c.readFn, c.wrFn = c.read, c.write
	return c
}

// Read and Write each have their own state: TLS may write between reads.
func (c *rawTCP) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rp, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerr
	c.rp = nil
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawTCP) read(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rp[0])), uintptr(len(c.rp)))
		if e == syscall.EINTR {
			continue
		}
		c.rn, c.rerr = int(r), e
		return e != syscall.EAGAIN
	}
}

func (c *rawTCP) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wp, c.wn, c.werr = p, 0, 0
	err := c.rc.Write(c.wrFn)
	done, errno := c.wn, c.werr
	c.wp = nil
	if err != nil {
		return done, err
	}
	if errno != 0 {
		return done, os.NewSyscallError("write", errno)
	}
	return done, nil
}

func (c *rawTCP) write(fd uintptr) bool {
	for c.wn < len(c.wp) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wp[c.wn])), uintptr(len(c.wp)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // the socket buffer is full: wait for room
		default:
			c.werr = e
			return true
		}
	}
	return true
}
