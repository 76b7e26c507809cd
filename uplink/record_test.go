package uplink

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func recordSamples(t testing.TB) []Uplink {
	u := testUplink(t)
	u.ReceivedAt = u.ReceivedAt.UTC()
	u.Receptions[1].Channel, u.Receptions[1].Antenna = 7, -3
	min := Uplink{ReceivedAt: time.Unix(0, 0).UTC()}
	wide := u
	wide.ReceivedAt = time.Date(1900, 1, 1, 0, 0, 0, 999999999, time.UTC)
	wide.FCnt, wide.SF, wide.Frequency = math.MaxUint32, math.MaxInt32, math.Inf(-1)
	wide.Payload = bytes.Repeat([]byte{0xa5}, 242)
	return []Uplink{u, min, wide}
}

func TestRecordRoundTrip(t *testing.T) {
	for i, u := range recordSamples(t) {
		b, err := u.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Uplink
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, got, u)
		}
		// Every truncation is an error, never a panic.
		for n := range len(b) {
			if err := got.UnmarshalBinary(b[:n]); !errors.Is(err, ErrRecordCorrupt) {
				t.Fatalf("sample %d truncated to %d: %v", i, n, err)
			}
		}
		if err := got.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrRecordCorrupt) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestRecordKeepsNanosecondsInUTC(t *testing.T) {
	u := testUplink(t) // ReceivedAt in CET with nanoseconds
	b, _ := u.MarshalBinary()
	var got Uplink
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !got.ReceivedAt.Equal(u.ReceivedAt) || got.ReceivedAt.Location() != time.UTC || got.ReceivedAt.Nanosecond() != 987654321 {
		t.Fatalf("ReceivedAt %v, want %v", got.ReceivedAt, u.ReceivedAt)
	}
}

func TestRecordRejects(t *testing.T) {
	u := testUplink(t)
	b, _ := u.MarshalBinary()
	var got Uplink
	if err := got.UnmarshalBinary(nil); !errors.Is(err, ErrRecordCorrupt) {
		t.Fatalf("empty: %v", err)
	}
	v2 := append([]byte{2}, b[1:]...)
	if err := got.UnmarshalBinary(v2); !errors.Is(err, ErrRecordVersion) {
		t.Fatalf("version 2: %v", err)
	}
	bad := bytes.Clone(b)
	bad[14] = 0x80 // unknown flag
	if err := got.UnmarshalBinary(bad); !errors.Is(err, ErrRecordCorrupt) {
		t.Fatalf("flags: %v", err)
	}
	// A huge length must not allocate: the payload length claims 2^62 bytes.
	huge := append(bytes.Clone(b[:recordFixed]), 0x02, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40)
	if err := got.UnmarshalBinary(huge); !errors.Is(err, ErrRecordCorrupt) {
		t.Fatalf("huge length: %v", err)
	}
	if !reflect.DeepEqual(got, Uplink{}) {
		t.Fatal("a failed UnmarshalBinary changed the Uplink")
	}
	big := int64(math.MaxInt32) + 1
	u.SF = int(big) // wraps on 32-bit targets, where any int fits
	if _, err := u.MarshalBinary(); err == nil && math.MaxInt > math.MaxInt32 {
		t.Fatal("SF beyond int32 accepted")
	}
}

// FuzzUnmarshalBinary checks that any input is rejected or decodes into an
// Uplink whose record decodes to the same record again.
func FuzzUnmarshalBinary(f *testing.F) {
	for _, u := range recordSamples(f) {
		b, _ := u.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var u Uplink
		if err := u.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrRecordCorrupt) && !errors.Is(err, ErrRecordVersion) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		b1, err := u.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var u2 Uplink
		if err := u2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("re-encoded record rejected: %v", err)
		}
		b2, _ := u2.MarshalBinary()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("not stable:\n%x\n%x", b1, b2)
		}
	})
}

// BenchmarkRecord encodes and decodes a two-reception uplink.
func BenchmarkRecord(b *testing.B) {
	u := testUplink(b)
	u.Payload = bytes.Repeat([]byte{1}, 20)
	buf := make([]byte, 0, 256)
	var out Uplink
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = u.AppendBinary(buf[:0])
		if err := out.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}
