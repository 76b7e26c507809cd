package uplink

import (
	"bytes"
	"testing"
	"time"

	"edgeflow/radio"
)

// benchDecoder knows 100 devices. The measured one's counter is wound
// back whenever the frames start over (rewind), so that they can be decoded
// again and again; the work per frame is that of a fresh uplink: one MIC,
// one decryption.
func benchDecoder(b *testing.B) (*Decoder, Session) {
	s := v1Session(b)
	devs := []Session{s}
	for i := range 99 {
		d := s
		d.DevEUI[6], d.DevEUI[7] = byte(i), 0xee
		d.DevAddr[3] = byte(i)
		devs = append(devs, d)
	}
	ss := NewSessions()
	if err := ss.Set(devs); err != nil {
		b.Fatal(err)
	}
	ss.RestoreFCnt(s.DevEUI, 70000) // steady state: the counter is known
	now := t0
	clock := func() time.Time { now = now.Add(benchTick); return now }
	return NewDecoder(ss, DecoderOptions{Now: clock}, nil, nil), s
}

// benchFrames are benchFrameCount uplinks of s, each heard by two antennas.
// At one call per benchTick a frame comes back after twice the
// de-duplication window, so the table holds a window's worth of frames and
// is swept as in the field.
func benchFrames(b *testing.B, s Session) [][]radio.Frame {
	out := make([][]radio.Frame, benchFrameCount)
	for i := range out {
		phy := buildUp(b, s, 70000+uint32(i), port(1), bytes.Repeat([]byte{0x42}, 20), false)
		out[i] = []radio.Frame{frame(phy, 1, -80, 7), frame(phy, 2, -95, 2)}
	}
	return out
}

const (
	benchFrameCount = 1000
	benchTick       = 2 * defaultDedupWindow / benchFrameCount
)

// BenchmarkDecode decodes a 20-byte uplink heard by two antennas.
func BenchmarkDecode(b *testing.B) {
	d, s := benchDecoder(b)
	frames := benchFrames(b, s)
	dst := make([]Uplink, 0, 4)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rewind(d, s, i, len(frames))
		dst = d.AppendDecode(dst[:0], frames[i%len(frames)])
		if len(dst) != 1 {
			b.Fatal("not decoded")
		}
		i++
	}
}

// BenchmarkDecodeUnknownDevAddr is the common case on a shared gateway: a
// frame of another network's device.
func BenchmarkDecodeUnknownDevAddr(b *testing.B) {
	d, _ := benchDecoder(b)
	frames := []radio.Frame{frame(unhex(b, v8Hex), 1, -80, 7)}
	b.ReportAllocs()
	for b.Loop() {
		if len(d.AppendDecode(nil, frames)) != 0 {
			b.Fatal("decoded")
		}
	}
}

// BenchmarkUplinkPath is this package's share of the per-uplink budget:
// decode, buffer record, and the document for the endpoint.
func BenchmarkUplinkPath(b *testing.B) {
	d, s := benchDecoder(b)
	frames := benchFrames(b, s)
	dst := make([]Uplink, 0, 4)
	rec := make([]byte, 0, 256)
	doc := make([]byte, 0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rewind(d, s, i, len(frames))
		dst = d.AppendDecode(dst[:0], frames[i%len(frames)])
		i++
		rec, _ = dst[0].AppendBinary(rec[:0])
		doc = AppendDocument(doc[:0], &dst[0], false, DocOptions{})
	}
}

// rewind sets the device's counter back to just before the first frame
// when the frames start over; a replay is otherwise never accepted.
func rewind(d *Decoder, s Session, i, n int) {
	if i%n != 0 {
		return
	}
	st := d.sessions.tab.Load().byEUI[s.DevEUI].st
	st.mu.Lock()
	st.has, st.fcnt = true, 69999
	st.mu.Unlock()
}
