package gwmp

import "testing"

func benchDecode(b *testing.B, in []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	var p PushDataPacket // reused, as the server does
	for b.Loop() {
		if err := p.UnmarshalBinary(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePushData is the common case: one rxpk without GPS time.
func BenchmarkDecodePushData(b *testing.B) { benchDecode(b, p1) }

// BenchmarkDecodePushDataMultiAntenna is Kerlink's rsig format with GPS time.
func BenchmarkDecodePushDataMultiAntenna(b *testing.B) {
	benchDecode(b, append(header(2, "0001", PushData, "0102030405060708"), p3JSON...))
}

// twoRXPKJSON is the reference load: two rxpk, ~370 bytes with the header.
const twoRXPKJSON = `{"rxpk":[{"tmst":284024332,"chan":0,"rfch":1,"freq":868.100000,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","lsnr":10.5,"rssi":-89,"size":29,"data":"gPwKEgeAOQACCeQOfm4V1kR0WNikxzMUPQ2YxNo="},` +
	`{"tmst":284031012,"chan":2,"rfch":0,"freq":868.500000,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","lsnr":7.5,"rssi":-57,"size":17,"data":"QPF9vkkAAgABlUN4disR/w0="}]}`

// BenchmarkDecodePushDataTwoRXPK is the reference load's datagram.
func BenchmarkDecodePushDataTwoRXPK(b *testing.B) {
	benchDecode(b, append(header(2, "0001", PushData, "0102030405060708"), twoRXPKJSON...))
}

// BenchmarkDecodePushDataStat is the periodic stat report.
func BenchmarkDecodePushDataStat(b *testing.B) {
	benchDecode(b, append(header(2, "0001", PushData, "0102030405060708"), p4JSON...))
}

func BenchmarkDecodePushDataPayload(b *testing.B) {
	var p PushDataPacket
	if err := p.UnmarshalBinary(p1); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = p.Payload.RXPK[0].AppendPayload(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePullData(b *testing.B) {
	in := mustHex("020001020102030405060708")
	b.ReportAllocs()
	var p PullDataPacket
	for b.Loop() {
		if err := p.UnmarshalBinary(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePushAck(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4)
	for b.Loop() {
		buf, _ = PushAckPacket{Version: 2, Token: [2]byte{1, 2}}.AppendBinary(buf[:0])
	}
}
