//go:build !linux

package semtech

import (
	"context"
	"net"
	"net/netip"

	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// batchConn reads datagrams in batches on Linux only (recvmmsg).
type batchConn struct{}

func (*batchConn) queueAck([4]byte) bool { return false }

func (*reader) readBatches(context.Context, *net.UDPConn) bool { return false }

type deferredPush struct{}

func (*reader) deferPush([]byte, netip.AddrPort, lorawan.EUI64, []radio.Frame) bool { return false }
