package semtech

import (
	"net"
	"net/netip"

	"edgeflow/packetfwd/gwmp"
)

// single is the socket one datagram at a time: where recvmmsg is missing
// (batch_other.go, or a Linux kernel before 3.0).
type single struct {
	conn   *net.UDPConn
	send   func(netip.AddrPort, []byte) error
	buf    []byte
	n      int
	src    netip.AddrPort
	ack    [gwmp.HeaderLen]byte
	hasAck bool
}

func newSingle(conn *net.UDPConn, send func(netip.AddrPort, []byte) error) *single {
	return &single{conn: conn, send: send, buf: make([]byte, maxDatagram)}
}

func (d *single) read() (int, error) {
	n, src, err := d.conn.ReadFromUDPAddrPort(d.buf)
	if err != nil {
		return 0, err
	}
	d.n, d.src = n, src
	return 1, nil
}

func (d *single) datagram(_ int, src *netip.AddrPort) ([]byte, bool) {
	*src = d.src
	return d.buf[:d.n], true
}

func (d *single) queueAck(_ int, ack [gwmp.HeaderLen]byte) { d.ack, d.hasAck = ack, true }

func (d *single) flushAcks() (int, error) {
	if !d.hasAck {
		return 0, nil
	}
	d.hasAck = false
	if err := d.send(d.src, d.ack[:]); err != nil {
		return 1, err
	}
	return 0, nil
}
