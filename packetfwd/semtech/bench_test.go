package semtech

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
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

// twoRXPKJSON is the reference load: two rxpk, ~370 bytes with the header.
const twoRXPKJSON = `{"rxpk":[{"tmst":284024332,"chan":0,"rfch":1,"freq":868.100000,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","lsnr":10.5,"rssi":-89,"size":29,"data":"gPwKEgeAOQACCeQOfm4V1kR0WNikxzMUPQ2YxNo="},` +
	`{"tmst":284031012,"chan":2,"rfch":0,"freq":868.500000,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","lsnr":7.5,"rssi":-57,"size":17,"data":"QPF9vkkAAgABlUN4disR/w0="}]}`

// BenchmarkUDPHandlePushDataTwoRXPK is the reference load: two uplinks per
// datagram.
func BenchmarkUDPHandlePushDataTwoRXPK(b *testing.B) {
	benchHandle(b, pkt(2, "4ee8", 0, "aa555a0000000101", twoRXPKJSON))
}

// BenchmarkFramesFromPushDataTwoRXPK is the rxpk → Frame conversion alone, for the
// reference load's datagram.
func BenchmarkFramesFromPushDataTwoRXPK(b *testing.B) {
	var p gwmp.PushDataPacket
	if err := p.UnmarshalBinary(pkt(2, "4ee8", 0, "aa555a0000000101", twoRXPKJSON)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if fr := framesFromPushData(&p, &recvTime, Position{}, false, nil, func(string, *gwmp.RXPK, error) { b.Fatal("drop") }); len(fr) != 2 {
			b.Fatal(len(fr))
		}
	}
}

func BenchmarkUDPHandlePullData(b *testing.B) {
	benchHandle(b, mustHex("020001020102030405060708"))
}

func benchHandle(b *testing.B, datagram []byte) {
	// No rate limit: one source sends it all.
	srv := listen(b, Config{Bind: "127.0.0.1:0", RateLimit: RateLimit{PerSecond: -1}}, radio.HandlerFunc(func(context.Context, []radio.Frame) error { return nil }), nil, nil)
	defer serve(b, srv)()
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
	// A reader of our own: the datagram path, apart from the read loop's.
	r := newReader(srv, nil)
	for b.Loop() {
		r.handleOne(ctx, datagram, src)
	}
}
