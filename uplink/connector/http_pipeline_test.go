package connector_test

import (
	"bufio"
	"context"
	"edgeflow/internal/testkit"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// rawServer is a TCP server on 127.0.0.1 that reads real HTTP requests
// (net/http's parser) and answers whatever bytes a test wants, to drive
// the connector through what endpoints and middleboxes do.
type rawServer struct {
	t       *testing.T
	ln      net.Listener
	accepts atomic.Int32
	mu      sync.Mutex
	got     []uint32 // FCntUp of every request processed, in order
}

// serve calls handle for each accepted connection (n counts from 0).
func newRawServer(t *testing.T, handle func(s *rawServer, n int, c net.Conn, br *bufio.Reader)) *rawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{t: t, ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.accepts.Add(1)) - 1
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(s, n, c, bufio.NewReader(c))
			}()
		}
	}()
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() + "/up" }

// read reads one request and records its FCntUp.
func (s *rawServer) read(br *bufio.Reader) (*http.Request, uint32, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, 0, err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, 0, err
	}
	var doc struct {
		U struct{ FCntUp uint32 } `json:"DevEUI_uplink"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, 0, fmt.Errorf("body %q: %v", body, err)
	}
	s.mu.Lock()
	s.got = append(s.got, doc.U.FCntUp)
	s.mu.Unlock()
	return r, doc.U.FCntUp, nil
}

func (s *rawServer) received() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint32(nil), s.got...)
}

// lingeringClose closes c the way careful servers do: stop sending, drain
// what the client already sent (requests that will not be processed),
// then close, so that the client reads the answers before a reset.
func lingeringClose(c net.Conn) {
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c)
}

func uplinks(from, n int) []*uplink.Uplink {
	ups := make([]*uplink.Uplink, n)
	for i := range ups {
		u := testUplink(uint32(from + i))
		ups[i] = &u
	}
	return ups
}

func newTestHTTP(t *testing.T, cfg connector.HTTPConfig) *connector.HTTP {
	t.Helper()
	h, err := connector.NewHTTP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func sendBatch(h *connector.HTTP, ctx context.Context, ups []*uplink.Uplink) []error {
	errs := make([]error, len(ups))
	h.SendBatch(ctx, ups, false, errs)
	return errs
}

func wantNoErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("errs[%d] = %v", i, err)
		}
	}
}

func wantSeq(t *testing.T, got []uint32, from, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("server got %v, want %d uplinks from %d, each once", got, n, from)
	}
	for i, f := range got {
		if f != uint32(from+i) {
			t.Fatalf("server got %v, want %d uplinks from %d in order, each once", got, n, from)
		}
	}
}

// 50 uplinks in batches of MaxBatch arrive in order, each once, over one
// TCP connection.
func TestHTTPPipelinedBatchOneConnection(t *testing.T) {
	var mu sync.Mutex
	var got []uint32
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc struct {
			U struct{ FCntUp uint32 } `json:"DevEUI_uplink"`
		}
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil || r.Header.Get("X-Thing") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, doc.U.FCntUp)
		mu.Unlock()
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.URL + "/up", Headers: map[string]string{"X-Thing": "{DevEUI}"}})
	if h.MaxBatch() != 16 {
		t.Fatalf("MaxBatch %d, want the default 16", h.MaxBatch())
	}
	ups := uplinks(1, 50)
	for i := 0; i < len(ups); i += h.MaxBatch() {
		wantNoErrors(t, sendBatch(h, context.Background(), ups[i:min(i+h.MaxBatch(), len(ups))]))
	}
	mu.Lock()
	wantSeq(t, got, 1, 50)
	mu.Unlock()
	if n := conns.Load(); n != 1 {
		t.Errorf("%d TCP connections, want 1", n)
	}
}

// Pipeline 1 turns pipelining off; a longer batch is still sent whole.
func TestHTTPPipelineOne(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := s.read(br); err != nil {
				return
			}
			// One request at a time: nothing else may be waiting.
			if br.Buffered() != 0 {
				s.t.Errorf("a second request was pipelined")
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url(), Pipeline: 1})
	if h.MaxBatch() != 1 {
		t.Fatalf("MaxBatch %d", h.MaxBatch())
	}
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(1, 3)))
	wantSeq(t, s.received(), 1, 3)
}

// "Connection: close" on the 2nd answer of 5: the server did not process
// the 3 after it, which go on a new connection, each once.
func TestHTTPConnectionCloseMidBatch(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, n int, c net.Conn, br *bufio.Reader) {
		for i := 0; ; i++ {
			if _, _, err := s.read(br); err != nil {
				return
			}
			if n == 0 && i == 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
				lingeringClose(c)
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(1, 5)))
	wantSeq(t, s.received(), 1, 5)
	if n := s.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// A server that closes a kept-alive connection while it is idle: the next
// batch fails on it before any answer and is sent again, once, on a new
// connection.
func TestHTTPIdleConnectionClosedByServer(t *testing.T) {
	closed := make(chan struct{})
	s := newRawServer(t, func(s *rawServer, n int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := s.read(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			if n == 0 {
				// Idle timeout, without a word.
				c.Close()
				close(closed)
				return
			}
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(1, 1)))
	<-closed
	time.Sleep(50 * time.Millisecond) // the FIN reaches the client
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(2, 3)))
	wantSeq(t, s.received(), 1, 4)
	if n := s.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// Chunked bodies with trailers, and 100 Continue before the answer, keep
// the pipeline in step and the connection alive.
func TestHTTPChunkedAndInterim(t *testing.T) {
	answers := []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nyes",
		"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: CHUNKED\r\n\r\n4\r\nbad \r\n7\r\nFCntUp!\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
	}
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		for i := 0; ; i++ {
			if _, _, err := s.read(br); err != nil {
				return
			}
			io.WriteString(c, answers[i%len(answers)])
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	for range 2 {
		errs := sendBatch(h, context.Background(), uplinks(1, len(answers)))
		var ce *connector.Error
		if !errors.As(errs[2], &ce) || ce.Kind != connector.Reject || !strings.Contains(ce.Error(), "bad FCntUp!") {
			t.Fatalf("errs[2] = %v, want a Reject with the chunked body", errs[2])
		}
		errs[2] = nil
		wantNoErrors(t, errs)
	}
	if n := s.accepts.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// A 503 with Retry-After in the middle of a batch fails that uplink only.
func TestHTTP503MidBatch(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		for {
			_, f, err := s.read(br)
			if err != nil {
				return
			}
			if f == 3 {
				io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy")
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	errs := sendBatch(h, context.Background(), uplinks(1, 5))
	var ce *connector.Error
	if !errors.As(errs[2], &ce) || ce.Kind != connector.Retry || ce.Status != 503 || ce.RetryAfter != 7*time.Second || ce.Reason != "http_503" {
		t.Fatalf("errs[2] = %#v, want Retry 503 after 7s", errs[2])
	}
	errs[2] = nil
	wantNoErrors(t, errs)
	wantSeq(t, s.received(), 1, 5)
}

// An answer with neither Content-Length nor chunked ends at EOF; the
// requests after it go on new connections.
func TestHTTPBodyUntilEOF(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		_, f, err := s.read(br)
		if err != nil {
			return
		}
		if f == 2 {
			io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\n\r\nit broke")
		} else {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n"+strings.Repeat("x", 100<<10))
		}
		lingeringClose(c)
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	errs := sendBatch(h, context.Background(), uplinks(1, 3))
	var ce *connector.Error
	if !errors.As(errs[1], &ce) || ce.Kind != connector.Retry || !strings.Contains(ce.Error(), "it broke") {
		t.Fatalf("errs[1] = %v, want Retry with the body", errs[1])
	}
	errs[1] = nil
	wantNoErrors(t, errs)
	wantSeq(t, s.received(), 1, 3)
	if n := s.accepts.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// Garbage instead of HTTP fails the batch with Retry errors; the next
// batch dials again.
func TestHTTPGarbageResponse(t *testing.T) {
	for _, garbage := range []string{
		"garbage\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 9<<10) + "\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
			if _, _, err := s.read(br); err != nil {
				return
			}
			io.WriteString(c, garbage)
			lingeringClose(c)
		})
		h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
		for i, err := range sendBatch(h, context.Background(), uplinks(1, 3)) {
			var ce *connector.Error
			if !errors.As(err, &ce) || ce.Kind != connector.Retry {
				t.Errorf("%.40q: errs[%d] = %v, want Retry", garbage, i, err)
			}
		}
	}
}

// A redirect is not followed: it names where to point the connection,
// without the query (which may hold a Token).
func TestHTTPRedirectIsRetry(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := s.read(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 301 Moved Permanently\r\nLocation: https://new.example/up?Token=abc\r\nContent-Length: 0\r\n\r\n")
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	u := testUplink(1)
	var ce *connector.Error
	err := h.Send(context.Background(), &u, false)
	if !errors.As(err, &ce) || ce.Kind != connector.Retry || ce.Reason != "http_30x" || ce.Status != 301 ||
		!strings.Contains(err.Error(), "https://new.example/up") || strings.Contains(err.Error(), "abc") {
		t.Fatalf("err %v (%+v)", err, ce)
	}
}

func TestHTTPRefusesHeaderInjection(t *testing.T) {
	for name, value := range map[string]string{
		"X-Evil":          "Bearer s3cret\r\nX-Admin: 1",
		"X-Evil\r\nX-Bad": "s3cret",
		"X Evil":          "s3cret",
		"X-Evil:":         "s3cret",
		"X-Nul":           "s3c\x00ret",
	} {
		_, err := connector.NewHTTP(connector.HTTPConfig{URL: "http://127.0.0.1:1/", Headers: map[string]string{name: value}}, nil)
		if err == nil || strings.Contains(err.Error(), "s3c") || !strings.Contains(err.Error(), "X") {
			t.Errorf("header %q: err %v", name, err)
		}
	}
}

// A cancelled ctx interrupts a batch whose answers never come.
func TestHTTPCancelWhileWaiting(t *testing.T) {
	reading := make(chan struct{})
	var once sync.Once
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		if _, err := br.Peek(1); err == nil {
			once.Do(func() { close(reading) })
		}
		io.Copy(io.Discard, br) // reads, never answers
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url(), Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	// Cancelled once the requests are on the wire; the Timeout (a minute)
	// would end it with another reason than "canceled".
	go func() {
		select {
		case <-reading:
		case <-time.After(testkit.Patience): // the server never read: fail on the reason
		}
		cancel()
	}()
	errs := sendBatch(h, ctx, uplinks(1, 4))
	for i, err := range errs {
		var ce *connector.Error
		if !errors.As(err, &ce) || ce.Kind != connector.Retry || ce.Reason != "canceled" {
			t.Errorf("errs[%d] = %v, want Retry canceled", i, err)
		}
	}
}

// Timeout bounds the wait for an answer.
func TestHTTPTimeout(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, c)
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url(), Timeout: 200 * time.Millisecond})
	u := testUplink(1)
	var ce *connector.Error
	if err := h.Send(context.Background(), &u, false); !errors.As(err, &ce) || ce.Reason != "timeout" {
		t.Fatalf("err %v, want a timeout", err)
	}
}

// https through a proxy: CONNECT with the proxy's credentials, then TLS
// to the endpoint, verified with the configured roots.
func TestHTTPSThroughConnectProxy(t *testing.T) {
	var got atomic.Int32
	ep := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.ProtoMajor != 1 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	}))
	t.Cleanup(ep.Close)
	var auth, target atomic.Value
	proxy := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil || r.Method != http.MethodConnect {
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		}
		auth.Store(r.Header.Get("Proxy-Authorization"))
		target.Store(r.RequestURI)
		up, err := net.Dial("tcp", r.RequestURI)
		if err != nil {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		defer up.Close()
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		go io.Copy(up, br)
		io.Copy(c, up)
	})
	pool := ep.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h := newTestHTTP(t, connector.HTTPConfig{URL: ep.URL + "/up", RootCAs: pool,
		Proxy: &url.URL{Scheme: "http", Host: proxy.ln.Addr().String(), User: url.UserPassword("tech", "s3cret")}})
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(1, 3)))
	if got.Load() != 3 {
		t.Fatalf("endpoint got %d, want 3", got.Load())
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("tech:s3cret")); auth.Load() != want {
		t.Errorf("Proxy-Authorization %q", auth.Load())
	}
	if target.Load() != strings.TrimPrefix(ep.URL, "https://") {
		t.Errorf("CONNECT %v", target.Load())
	}
	// Without the endpoint's CA: refused, as a certificate failure.
	h2 := newTestHTTP(t, connector.HTTPConfig{URL: ep.URL + "/up", Proxy: &url.URL{Scheme: "http", Host: proxy.ln.Addr().String()}})
	u := testUplink(9)
	var ce *connector.Error
	if err := h2.Send(context.Background(), &u, false); !errors.As(err, &ce) || ce.Reason != "tls_certificate" {
		t.Errorf("err %v, want a certificate failure", err)
	}
}

// An HTTP/1.0 endpoint closes after each answer: every uplink arrives
// once, and after the first connection the connector stops pipelining to
// it (one request per connection, not a batch dropped each time).
func TestHTTP10ClosesAfterEachAnswer(t *testing.T) {
	var written atomic.Int32 // requests that reached the server, answered or not
	s := newRawServer(t, func(s *rawServer, _ int, c net.Conn, br *bufio.Reader) {
		if _, _, err := s.read(br); err != nil {
			return
		}
		written.Add(1)
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, r.Body)
			written.Add(1)
		}
	})
	h := newTestHTTP(t, connector.HTTPConfig{URL: s.url()})
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(1, 6)))
	wantNoErrors(t, sendBatch(h, context.Background(), uplinks(7, 4)))
	wantSeq(t, s.received(), 1, 10)
	// The server counts dropped requests as it drains them, after the client moved on.
	testkit.WaitUntil(t, "15 requests at the server", func() bool { return written.Load() >= 15 })
	// More would be an error; nothing marks their absence: the server
	// reads what is on its sockets within this (real sockets) time.
	time.Sleep(50 * time.Millisecond)
	if n := written.Load(); n != 6+9 {
		t.Errorf("%d requests written, want 6 on the first connection and then one per connection (15)", n)
	}
}
