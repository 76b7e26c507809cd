package connector_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/uplink/connector"
)

// The batch deadline is kept from batch to batch: a batch that ran out of
// time does not make the next one fail, and a caller that gives up is
// told apart from a timeout.
func TestHTTPDeadlineFromBatchToBatch(t *testing.T) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1) == 2 { // the second request hangs
			<-r.Context().Done()
		}
	}))
	t.Cleanup(s.Close)
	h := newHTTP(t, connector.HTTPConfig{URL: s.URL, Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	ups := uplinks(1)
	if err := h.Send(ctx, ups[0], false); err != nil {
		t.Fatalf("first: %v", err)
	}
	if ce := connector.AsError(h.Send(ctx, ups[0], false)); ce.Reason != "timeout" {
		t.Fatalf("second: %v (%s), want a timeout", ce, ce.Reason)
	}
	for i := range 3 {
		if err := h.Send(ctx, ups[0], false); err != nil {
			t.Fatalf("after the timeout, send %d: %v", i, err)
		}
	}
	// The caller's context ends: canceled, not a timeout.
	cctx, cancel := context.WithCancelCause(ctx)
	cancel(context.Canceled)
	if ce := connector.AsError(h.Send(cctx, ups[0], false)); ce.Reason != "canceled" {
		t.Fatalf("canceled caller: %v (%s), want canceled", ce, ce.Reason)
	}
	if err := h.Send(ctx, ups[0], false); err != nil {
		t.Fatalf("after a canceled caller: %v", err)
	}
	// Closed, the connector still sends (the lane may send again).
	h.Close()
	if err := h.Send(ctx, ups[0], false); err != nil {
		t.Fatalf("after Close: %v", err)
	}
}
