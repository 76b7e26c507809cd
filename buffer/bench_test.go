package buffer

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Record size for the benchmarks: an encoded uplink is a few hundred bytes.
const benchRecSize = 300

// BenchmarkAppend commits groups of 100 records; MaxBatch 100 makes the
// writer commit at once instead of waiting CommitInterval for company.
func BenchmarkAppend(b *testing.B) {
	s := openTest(b, Options{MaxSize: 256 << 20, MaxBatch: 100})
	tmpl := recs(100, benchRecSize, time.Unix(1, 0), "b")
	batch := make([]Record, len(tmpl))
	b.ReportAllocs()
	b.SetBytes(100 * benchRecSize)
	for b.Loop() {
		copy(batch, tmpl)
		if err := s.Append(context.Background(), "q", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
}

func BenchmarkPeekAck(b *testing.B) {
	s := openTest(b, Options{MaxSize: 256 << 20})
	refill := func() {
		for range 100 {
			s.mustAppend("q", recs(100, benchRecSize, time.Unix(1, 0), "b")...)
		}
	}
	refill()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		head, err := s.Peek("q", 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(head) == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
			continue
		}
		if err := s.AckThrough("q", head[len(head)-1].Seq); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteCost measures what each record costs the flash: bytes of
// pages bbolt writes (TxStats allocated pages + meta page, per commit) and,
// when the kernel exposes it, /proc/self/io write_bytes, for appends and for
// the acks that remove the records, at several records per commit.
func BenchmarkWriteCost(b *testing.B) {
	for _, per := range []int{1, 10, 100, 500} {
		b.Run("per_commit="+strconv.Itoa(per), func(b *testing.B) {
			s := openTest(b, Options{MaxSize: 256 << 20, CommitInterval: time.Millisecond})
			// A backlog first, so pages and the tree have their steady shape.
			for range 20 {
				s.mustAppend("q", recs(500, benchRecSize, time.Unix(1, 0), "w")...)
			}
			var appendBolt, ackBolt, appendIO, ackIO int64
			var n int64
			b.ResetTimer()
			for range b.N {
				w0, io0 := int64(s.m.written.Get()), procWriteBytes()
				batch := s.mustAppend("q", recs(per, benchRecSize, time.Unix(2, 0), "w")...)
				w1, io1 := int64(s.m.written.Get()), procWriteBytes()
				head := s.mustPeek("q", per)
				if err := s.Ack("q", seqsOf(head)); err != nil {
					b.Fatal(err)
				}
				w2, io2 := int64(s.m.written.Get()), procWriteBytes()
				appendBolt += w1 - w0
				ackBolt += w2 - w1
				appendIO += io1 - io0
				ackIO += io2 - io1
				n += int64(len(batch))
			}
			b.ReportMetric(float64(appendBolt)/float64(n), "bbolt-B/rec-append")
			b.ReportMetric(float64(ackBolt)/float64(n), "bbolt-B/rec-ack")
			if appendIO+ackIO > 0 {
				b.ReportMetric(float64(appendIO)/float64(n), "io-B/rec-append")
				b.ReportMetric(float64(ackIO)/float64(n), "io-B/rec-ack")
			}
		})
	}
}

// procWriteBytes reads write_bytes of /proc/self/io (0 when unavailable).
func procWriteBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
