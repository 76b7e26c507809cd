package connector_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

func newHTTP(t *testing.T, cfg connector.HTTPConfig) *connector.HTTP {
	t.Helper()
	h, err := connector.NewHTTP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// sendAll sends n uplinks as one batch and fails the test on any error.
func sendAll(t *testing.T, h *connector.HTTP, n int) {
	t.Helper()
	ups := uplinks(n)
	errs := make([]error, len(ups))
	h.SendBatch(context.Background(), ups, false, errs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("uplink %d: %v", i, err)
		}
	}
}

func uplinks(n int) []*uplink.Uplink {
	var out []*uplink.Uplink
	for i := range n {
		u := testUplink(uint32(i + 1))
		out = append(out, &u)
	}
	return out
}

// An endpoint that speaks only HTTP/2 (ALPN h2, nothing else) takes the
// uplinks: the connector offers h2 first.
func TestHTTP2OnlyEndpoint(t *testing.T) {
	var protos sync.Map
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	s.EnableHTTP2 = true
	// Refuse http/1.1 in ALPN. Set before the start: the server's
	// connections read the configuration (written after, a data race).
	s.TLS = &tls.Config{NextProtos: []string{"h2"}}
	s.StartTLS()
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	h := newHTTP(t, connector.HTTPConfig{URL: s.URL + "/up", RootCAs: pool, Concurrency: 4})
	sendAll(t, h, 8)
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Fatal("no request arrived over HTTP/2")
	}
	if _, ok := protos.Load("HTTP/1.1"); ok {
		t.Fatal("a request arrived over HTTP/1.1")
	}
}

// An endpoint 200 ms away gets the requests of a batch at the same time,
// never more than Concurrency, each once.
func TestHTTPConcurrentRequests(t *testing.T) {
	var inFlight, most, total atomic.Int64
	seen := sync.Map{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		b, _ := io.ReadAll(r.Body)
		if _, dup := seen.LoadOrStore(string(b), true); dup {
			t.Errorf("uplink received twice")
		}
		total.Add(1)
		time.Sleep(200 * time.Millisecond) // the endpoint's own time, as in the field
	}))
	t.Cleanup(s.Close)
	h := newHTTP(t, connector.HTTPConfig{URL: s.URL, Concurrency: 16})
	sendAll(t, h, 40)
	if total.Load() != 40 {
		t.Fatalf("%d requests, want 40", total.Load())
	}
	if m := most.Load(); m < 2 || m > 16 {
		t.Fatalf("at most %d requests in flight, want 2 to 16", m)
	}
}

// listen opens 127.0.0.1:0; the cleanup closes it and waits for the
// goroutines of wg.
func listen(t *testing.T) (net.Listener, *sync.WaitGroup) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wg := new(sync.WaitGroup)
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln, wg
}

// rawServer answers each connection with handle, on 127.0.0.1:0.
func rawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, wg := listen(t)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String() + "/up"
}

// An HTTP/1.0 endpoint whose body ends at the close, and which resets the
// connection while the body is read: the status was 200, so the uplink is
// delivered, and sent once (it used to go again on every start).
func TestHTTP10BodyCutByReset(t *testing.T) {
	var requests atomic.Int64
	url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		requests.Add(1)
		_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart of a bo")
		// Let the client read the head, then reset: the body never ends.
		time.Sleep(50 * time.Millisecond)
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	h := newHTTP(t, connector.HTTPConfig{URL: url})
	for i, u := range uplinks(8) {
		if err := h.Send(context.Background(), u, false); err != nil {
			t.Fatalf("uplink %d: %v", i, err)
		}
	}
	if n := requests.Load(); n != 8 {
		t.Fatalf("%d requests for 8 uplinks", n)
	}
}

// What an endpoint answered, or why not, reads as what to do.
func TestHTTPErrorsInWords(t *testing.T) {
	html := "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	cases := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		want    string
		kind    connector.Kind
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://lora.example.com/v2/up?key=secret", http.StatusMovedPermanently)
		}, 0, "endpoint redirects to https://lora.example.com/v2/up?…; set destinationURL to it", connector.Retry},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, html)
		}, 0, "endpoint answered 403: 403 Forbidden: 403 Forbidden — nginx", connector.Unauthorized},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			// With the body read, the server notices the client leave.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}, 300 * time.Millisecond, "no answer within delivery.timeout (300ms)", connector.Retry},
		{"not found", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, 0, "endpoint answered 404: 404 Not Found: 404 page not found", connector.Refused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := httptest.NewServer(c.handler)
			t.Cleanup(s.Close)
			h := newHTTP(t, connector.HTTPConfig{URL: s.URL, Timeout: c.timeout})
			err := h.Send(context.Background(), uplinks(1)[0], false)
			ce := connector.AsError(err)
			if err == nil || ce.Error() != c.want || ce.Kind != c.kind {
				t.Fatalf("got %v (kind %d), want %q (kind %d)", err, ce.Kind, c.want, c.kind)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			if r, err := http.ReadRequest(br); err == nil {
				_, _ = io.Copy(io.Discard, r.Body)
			}
		})
		h := newHTTP(t, connector.HTTPConfig{URL: url})
		err := h.Send(context.Background(), uplinks(1)[0], false)
		if err == nil || !strings.HasPrefix(err.Error(), "endpoint closed the connection without answering") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		// The server's log is set before it starts: its connection
		// goroutines read it (the handshake the client refuses is logged).
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		s.StartTLS()
		t.Cleanup(s.Close)
		h := newHTTP(t, connector.HTTPConfig{URL: s.URL})
		err := h.Send(context.Background(), uplinks(1)[0], false)
		if err == nil || !strings.HasPrefix(err.Error(), "TLS: certificate signed by an unknown authority — set caFile") {
			t.Fatalf("got %v", err)
		}
	})
}

// A batch's requests start in FIFO order: each once the one before it has
// written its headers. On fresh connections that is the order in which
// the endpoint accepts them, whatever order their answers take.
func TestHTTPBatchStartsInOrder(t *testing.T) {
	ln, wg := listen(t)
	fcntRe := regexp.MustCompile(`"FCntUp":(\d+)`)
	var mu sync.Mutex
	var order []string // FCntUp of each connection, in the order accepted
	var held []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err != nil {
				c.Close()
				continue
			}
			body, _ := io.ReadAll(req.Body)
			m := fcntRe.FindSubmatch(body)
			mu.Lock()
			if m != nil {
				order = append(order, string(m[1]))
			}
			held = append(held, c)
			if len(held) == 8 {
				// Answered only once all are in: an answered connection
				// would go idle and take a later request of the batch.
				for _, c := range held {
					_, _ = io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
					wg.Go(func() { _, _ = io.Copy(io.Discard, c); c.Close() }) // until the client closes
				}
				held = nil
			}
			mu.Unlock()
		}
	})
	for round := range 3 { // fresh connections each round: a new connector
		h := newHTTP(t, connector.HTTPConfig{URL: "http://" + ln.Addr().String() + "/up", Concurrency: 8})
		sendAll(t, h, 8)
		h.Close()
		mu.Lock()
		got := strings.Join(order, ",")
		order = nil
		mu.Unlock()
		if want := "1,2,3,4,5,6,7,8"; got != want {
			t.Fatalf("round %d: connections accepted with FCntUp %s, want %s", round, got, want)
		}
	}
}

// A batch's requests run on one worker goroutine per slot, kept from batch
// to batch (a goroutine per request grew its stack for net/http at every
// batch), and Close ends them.
func TestHTTPBatchWorkers(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(s.Close)
	workers := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "connector.(*HTTP).work(")
	}
	base := workers() // another test's, not closed yet
	h, err := connector.NewHTTP(connector.HTTPConfig{URL: s.URL, Concurrency: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sendAll(t, h, 4)
	}
	if n := workers() - base; n != 4 {
		t.Fatalf("%d workers after three batches of 4, want 4", n)
	}
	h.Close()
	for deadline := time.Now().Add(10 * time.Second); workers() > base; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // a bound for "never", not a timing
			t.Fatalf("%d workers left after Close", workers()-base)
		}
	}
}
