package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// Reset, as an answer of a Sink, resets the connection instead of
// answering: what a crashing proxy or a NAT timeout does.
const Reset = -1

// Request is one request a Sink received.
type Request struct {
	N      int // its rank, from 0
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
	// Uplink is the body's DevEUI_uplink object; nil when it is not one.
	Uplink map[string]any
	// Status is what the sink answered, or Reset.
	Status int
	// Reply holds headers the answer function wants in the answer
	// (Retry-After, say).
	Reply http.Header
}

// Sink is a cloud endpoint (Cayenne, ThingPark X) that records every
// request and answers as the test says: by default 202 Accepted. Each
// request's body must be a {"DevEUI_uplink":{…}} document, else the test
// fails.
type Sink struct {
	*httptest.Server
	tb testing.TB
	// answering lets one request at a time through the answer function,
	// so that it need not be safe for concurrent use and the requests are
	// recorded in the order it saw them; mu guards the rest and is never
	// held while the answer function runs (it may block).
	answering sync.Mutex
	mu        sync.Mutex
	answer    func(r *Request) int
	n         int
	reqs      []*Request
	changed   changes
}

// NewSink starts a Sink on 127.0.0.1 (port 0); it is closed when the test
// ends.
func NewSink(tb testing.TB) *Sink {
	s := &Sink{tb: tb}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// SetAnswer sets the answer to each request: an HTTP status, or Reset.
// nil answers 202. f sees one request at a time, in arrival order, and
// may block (a slow endpoint); the others wait their turn.
func (s *Sink) SetAnswer(f func(r *Request) int) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var doc struct {
		U map[string]any `json:"DevEUI_uplink"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.U == nil {
		s.tb.Errorf("the endpoint got something else than a DevEUI_uplink document: %v: %.200s", err, body)
	}
	var answer func(*Request) int
	req := &Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone(), Body: body, Uplink: doc.U,
		Status: http.StatusAccepted, Reply: http.Header{}}
	s.answering.Lock()
	s.mu.Lock()
	req.N, answer = s.n, s.answer
	s.n++
	s.mu.Unlock()
	if answer != nil {
		req.Status = answer(req)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	s.answering.Unlock()
	if req.Status == Reset {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			c.Close()
		}
	} else {
		for k, v := range req.Reply {
			w.Header()[k] = v
		}
		w.WriteHeader(req.Status)
	}
	s.changed.notify()
}

// Requests returns every request so far, in arrival order.
func (s *Sink) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.reqs...)
}

// Accepted returns the requests answered with a 2xx, in arrival order;
// with a path, only those posted there.
func (s *Sink) Accepted(path ...string) []*Request {
	var out []*Request
	for _, r := range s.Requests() {
		if r.Status/100 == 2 && (len(path) == 0 || r.URL.Path == path[0]) {
			out = append(out, r)
		}
	}
	return out
}

// Uplinks returns the DevEUI_uplink objects of the accepted requests (see
// Accepted).
func (s *Sink) Uplinks(path ...string) []map[string]any {
	var out []map[string]any
	for _, r := range s.Accepted(path...) {
		out = append(out, r.Uplink)
	}
	return out
}

// Wait waits, without polling, until cond holds over the requests so far;
// the test fails after Patience.
func (s *Sink) Wait(tb testing.TB, what string, cond func(reqs []*Request) bool) {
	tb.Helper()
	if !s.changed.waitFor(tb, func() bool { return cond(s.Requests()) }) {
		tb.Fatalf("timed out waiting for %s at the endpoint (%d requests)", what, len(s.Requests()))
	}
}

// WaitUplinks waits until n uplinks were accepted (at path, if given) and
// returns them; more than n fails the test.
func (s *Sink) WaitUplinks(tb testing.TB, n int, path ...string) []map[string]any {
	tb.Helper()
	s.Wait(tb, fmt.Sprintf("%d uplinks", n), func([]*Request) bool { return len(s.Uplinks(path...)) >= n })
	got := s.Uplinks(path...)
	if len(got) != n {
		tb.Fatalf("the endpoint accepted %d uplinks, want %d", len(got), n)
	}
	return got
}
