//go:build !linux

package main

import "net"

func newRawUDP(pc net.PacketConn) (datagrams, error) { return newPlainUDP(pc), nil }
