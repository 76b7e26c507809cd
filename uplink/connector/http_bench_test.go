package connector_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
	s := benchServer(b)
	c := benchHTTP(b, s.URL)
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
