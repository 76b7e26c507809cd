//go:build !linux

package connector

import "net"

// NewRawTCP is the connection itself: the raw path is Linux's.
func NewRawTCP(nc net.Conn) net.Conn { return nc }
