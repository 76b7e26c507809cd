//go:build !linux

package connector

import "net"

func newRawTCP(nc net.Conn) net.Conn { return nc }
