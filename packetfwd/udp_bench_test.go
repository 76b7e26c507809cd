package packetfwd

import (
	"context"
	"net"
	"net/netip"
	"testing"
)

// BenchmarkUDPHandlePushData measures the server's CPU per PUSH_DATA (P1,
// one uplink): decode, registry, conversion, handler call and PUSH_ACK.
func BenchmarkUDPHandlePushData(b *testing.B) {
	benchHandle(b, pkt(2, "4ee8", 0, "aa555a0000000101", p1JSON))
}

// BenchmarkUDPHandlePushDataMultiAntenna is P3: two frames, GPS time.
func BenchmarkUDPHandlePushDataMultiAntenna(b *testing.B) {
	benchHandle(b, pkt(2, "4ee8", 0, "aa555a0000000101", p3JSON))
}

func BenchmarkUDPHandlePullData(b *testing.B) {
	benchHandle(b, mustHex("020001020102030405060708"))
}

func benchHandle(b *testing.B, datagram []byte) {
	srv := NewUDPServer(UDPConfig{Bind: "127.0.0.1:0"}, HandlerFunc(func(context.Context, []Frame) error { return nil }), nil, nil)
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	// Acks go to a socket nobody reads; once its buffer is full the
	// kernel drops them, which costs the same send.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	src := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	ctx := context.Background()
	b.ReportAllocs()
	// Nothing sends to srv, so its read goroutine leaves s.push to us.
	for b.Loop() {
		srv.handleDatagram(ctx, datagram, src)
	}
}
