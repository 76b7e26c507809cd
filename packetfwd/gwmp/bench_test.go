package gwmp

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchDecode decodes copies of in whose payloads differ, as real uplinks
// do: decoding one datagram again and again would let the library's string
// cache hand back the strings of the previous run without allocating.
func benchDecode(b *testing.B, in []byte) {
	benchDecodeWith(b, in, (*PushDataPacket).UnmarshalBinary)
}

func benchDecodeWith(b *testing.B, in []byte, decode func(*PushDataPacket, []byte) error) {
	ins := varied(in, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	var p PushDataPacket // reused, as the server does
	k := 0
	for b.Loop() {
		k++
		if err := decode(&p, ins[k%len(ins)]); err != nil {
			b.Fatal(err)
		}
	}
}

// varied returns n copies of in with random data and etime of the same
// lengths.
func varied(in []byte, n int) [][]byte {
	re := regexp.MustCompile(`"(data|etime)":"[^"]*"`)
	rnd := rand.New(rand.NewSource(1))
	out := make([][]byte, n)
	for k := range out {
		out[k] = re.ReplaceAllFunc(bytes.Clone(in), func(m []byte) []byte {
			i := bytes.IndexByte(m, ':')
			raw, _ := base64.StdEncoding.DecodeString(string(m[i+2 : len(m)-1]))
			rnd.Read(raw)
			return append(append(bytes.Clone(m[:i+2]), base64.StdEncoding.EncodeToString(raw)...), '"')
		})
	}
	return out
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

// BenchmarkDecodePushDataTwoRXPKLibrary is the reference datagram on the
// library alone, without the fast path, for comparison.
func BenchmarkDecodePushDataTwoRXPKLibrary(b *testing.B) {
	benchDecodeWith(b, append(header(2, "0001", PushData, "0102030405060708"), twoRXPKJSON...), unmarshalPushDataLibrary)
}

// BenchmarkColdPushData decodes the reference datagram from cold caches, as
// at 10 uplinks/s, where the rest of the agent runs between two datagrams:
// it writes over 8 MiB (more than an L2) outside the timer before each.
// Slow, hence not named like the others.
func BenchmarkColdPushData(b *testing.B) {
	benchCold(b, (*PushDataPacket).UnmarshalBinary)
}

// BenchmarkColdPushDataLibrary is BenchmarkColdPushData on the library
// alone.
func BenchmarkColdPushDataLibrary(b *testing.B) {
	benchCold(b, unmarshalPushDataLibrary)
}

func benchCold(b *testing.B, decode func(*PushDataPacket, []byte) error) {
	ins := varied(append(header(2, "0001", PushData, "0102030405060708"), twoRXPKJSON...), 1024)
	junk := make([]byte, 8<<20)
	b.ReportAllocs()
	var p PushDataPacket
	k := 0
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < len(junk); i += 64 {
			junk[i]++
		}
		otherWork(b, junk[:64<<10])
		b.StartTimer()
		k++
		if err := decode(&p, ins[k%len(ins)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePushDataEncodingJSON is the reference datagram on
// encoding/json, for comparison.
func BenchmarkDecodePushDataEncodingJSON(b *testing.B) {
	ins := varied(append(header(2, "0001", PushData, "0102030405060708"), twoRXPKJSON...), 1024)
	b.ReportAllocs()
	var p PushDataPacket
	k := 0
	for b.Loop() {
		k++
		if err := unmarshalPushDataJSON(&p, ins[k%len(ins)]); err != nil {
			b.Fatal(err)
		}
	}
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

// otherWork runs code unrelated to decoding, as the agent does between two
// datagrams, so that the decoder's code is cold too, not only its data.
func otherWork(b *testing.B, buf []byte) {
	var zw bytes.Buffer
	w, _ := flate.NewWriter(&zw, flate.BestSpeed)
	w.Write(buf)
	w.Close()
	sum := sha256.Sum256(zw.Bytes())
	var st Stat
	if err := json.Unmarshal([]byte(p4JSON)[8:len(p4JSON)-1], &st); err != nil {
		b.Fatal(err)
	}
	s := fmt.Sprintf("%x %v %+v", sum, time.Unix(int64(st.RXNb), 0).UTC(), st)
	if !regexp.MustCompile(`^[0-9a-f]{64} `).MatchString(s) {
		b.Fatal(s)
	}
	m := map[string]int{}
	for _, f := range strings.Fields(s) {
		m[f]++
	}
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) == 0 {
		b.Fatal("no keys")
	}
}
