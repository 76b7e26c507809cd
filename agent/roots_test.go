package agent

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"edgeflow/config"
	"edgeflow/uplink"
)

// The fallback roots are asked for only when a connection about to be
// dialled verifies a server against the system's roots, at its first
// send: an agent whose endpoint is plain http:// never parses them, and
// the start does not wait for them.
func TestTLSRootsAtTheFirstTLSDial(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("HTTP_PROXY", "")
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	for _, c := range []struct {
		name string
		conn config.Connection
		want int
	}{
		{"http endpoint", config.Connection{ConnectorID: config.ConnectorHTTP,
			Configuration: config.ConnectionConfiguration{DestinationURL: plain.URL + "/up"}}, 0},
		{"https endpoint", config.Connection{ConnectorID: config.ConnectorHTTP,
			Configuration: config.ConnectionConfiguration{DestinationURL: tlsSrv.URL + "/up"}}, 1},
		{"mqtt over tcp", config.Connection{ConnectorID: config.ConnectorMQTT,
			Configuration: config.ConnectionConfiguration{HostName: "127.0.0.1:1", Protocol: "tcp"}}, 0},
		{"mqtt over ssl", config.Connection{ConnectorID: config.ConnectorMQTT,
			Configuration: config.ConnectionConfiguration{HostName: "127.0.0.1:1", Protocol: "ssl"}}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			a := &Agent{opts: Options{TLSRoots: func() { n++ }}, log: slog.New(slog.DiscardHandler)}
			a.cfg.Store(config.DefaultIn(config.Dirs{}))
			c.conn.Name = c.name
			conn, err := a.connector(c.conn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if n != 0 {
				t.Fatalf("TLSRoots called %d times before any send", n)
			}
			_ = conn.Send(context.Background(), &uplink.Uplink{}, false) // the outcome is not the point
			if n != c.want {
				t.Fatalf("TLSRoots called %d times by a send, want %d", n, c.want)
			}
		})
	}
	for server, want := range map[string]bool{"tcp://127.0.0.1:1883": true, "ws://h/mqtt": true, "ssl://h:8883": false, "wss://h/mqtt": false, "TLS://h": false} {
		if got := plainMQTT(server); got != want {
			t.Errorf("plainMQTT(%q) = %v", server, got)
		}
	}
}
