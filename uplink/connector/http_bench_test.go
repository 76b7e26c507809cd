package connector_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// benchServer answers 200 to every POST after reading its body, as a
// cheap endpoint would: the figures are the client's cost plus a fixed
// server cost.
func benchServer(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(s.Close)
	return s
}

func benchHTTP(b *testing.B, url string) connector.Connector {
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: url + "/uplink",
		Headers: map[string]string{"Authorization": "Bearer x", "X-Thing": "{DevEUI}"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	return h
}

// BenchmarkHTTPSendBatch sends batches of 16 uplinks; one op is one batch
// (see the ns/uplink metric). A connector without SendBatch sends them one
// by one, which is what the lane did before batches.
func BenchmarkHTTPSendBatch(b *testing.B) {
	s := benchServer(b)
	c := benchHTTP(b, s.URL)
	const n = 16
	ups := make([]*uplink.Uplink, n)
	for i := range ups {
		u := testUplink(uint32(i))
		ups[i] = &u
	}
	errs := make([]error, n)
	ctx := context.Background()
	send := func() {
		if bc, ok := c.(interface {
			SendBatch(context.Context, []*uplink.Uplink, bool, []error)
		}); ok {
			bc.SendBatch(ctx, ups, false, errs)
			return
		}
		for i, u := range ups {
			errs[i] = c.Send(ctx, u, false)
		}
	}
	send()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		send()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/uplink")
}

// BenchmarkHTTPSend sends one uplink per call.
func BenchmarkHTTPSend(b *testing.B) {
	benchSends(b, benchHTTP(b, benchServer(b).URL))
}

// leanServer answers 200 to each request and allocates nothing per
// request, so that allocs/op against it are the client's own.
func leanServer(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				bw := bufio.NewWriter(c)
				n := 0
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
						n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
					}
					if len(line) > 2 {
						continue
					}
					br.Discard(n)
					bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
					if br.Buffered() == 0 {
						bw.Flush()
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// BenchmarkHTTPSendBatchLean is BenchmarkHTTPSendBatch against a server
// that costs (almost) nothing: the client's cost alone.
func BenchmarkHTTPSendBatchLean(b *testing.B) {
	c := benchHTTP(b, leanServer(b))
	ups := make([]*uplink.Uplink, 16)
	for i := range ups {
		u := testUplink(uint32(i))
		ups[i] = &u
	}
	errs := make([]error, len(ups))
	bc := c.(connector.Batcher)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bc.SendBatch(ctx, ups, false, errs)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bc.SendBatch(ctx, ups, false, errs)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ups)), "ns/uplink")
}

// BenchmarkHTTPSendLean sends one uplink per call to a server that costs
// (almost) nothing: what one request costs the client at a gateway's usual
// pace, when every batch is a single uplink.
func BenchmarkHTTPSendLean(b *testing.B) {
	benchSends(b, benchHTTP(b, leanServer(b)))
}

// benchSends sends one uplink per iteration through c, after one untimed
// send that opens the connection.
func benchSends(b *testing.B, c connector.Connector) {
	u := testUplink(1)
	ctx := context.Background()
	if err := c.Send(ctx, &u, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.Send(ctx, &u, false); err != nil {
			b.Fatal(err)
		}
	}
}
