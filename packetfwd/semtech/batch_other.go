//go:build !linux

package semtech

import (
	"net"
	"net/netip"
)

// newDatagrams reads one datagram at a time: recvmmsg is Linux's.
func newDatagrams(conn *net.UDPConn, send func(netip.AddrPort, []byte) error) datagrams {
	return newSingle(conn, send)
}

func batchUnsupported(error) bool { return false }
