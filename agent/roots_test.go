package agent

import (
	"log/slog"
	"testing"

	"edgeflow/config"
)

// The fallback roots are asked for only by what verifies a server against
// the system's roots: an http:// endpoint reached directly or through an
// http:// proxy never parses them.
func TestTLSRootsOnlyForTLS(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("NO_PROXY", "")
	for _, c := range []struct {
		name string
		conn config.Connection
		want int
	}{
		{"http endpoint", config.Connection{ConnectorID: config.ConnectorHTTP,
			Configuration: config.ConnectionConfiguration{DestinationURL: "http://127.0.0.1:1/up"}}, 0},
		{"http endpoint, http proxy", config.Connection{ConnectorID: config.ConnectorHTTP,
			Configuration: config.ConnectionConfiguration{DestinationURL: "http://127.0.0.1:1/up", Proxy: &config.Proxy{Hostname: "127.0.0.1:3128"}}}, 0},
		{"https endpoint", config.Connection{ConnectorID: config.ConnectorHTTP,
			Configuration: config.ConnectionConfiguration{DestinationURL: "https://127.0.0.1:1/up"}}, 1},
		{"http endpoint, https proxy", config.Connection{ConnectorID: config.ConnectorHTTP,
			Configuration: config.ConnectionConfiguration{DestinationURL: "http://127.0.0.1:1/up", Proxy: &config.Proxy{Hostname: "https://127.0.0.1:3128"}}}, 1},
		{"mqtt over tcp", config.Connection{ConnectorID: config.ConnectorMQTT,
			Configuration: config.ConnectionConfiguration{HostName: "127.0.0.1:1883", Protocol: "tcp"}}, 0},
		{"mqtt over ssl", config.Connection{ConnectorID: config.ConnectorMQTT,
			Configuration: config.ConnectionConfiguration{HostName: "127.0.0.1:8883", Protocol: "ssl"}}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			a := &Agent{opts: Options{TLSRoots: func() { n++ }}}
			a.cfg.Store(config.DefaultIn(config.Dirs{}))
			a.log = slog.New(slog.DiscardHandler)
			c.conn.Name = c.name
			if _, err := a.connector(c.conn); err != nil {
				t.Fatal(err)
			}
			if n != c.want {
				t.Fatalf("TLSRoots called %d times, want %d", n, c.want)
			}
		})
	}
	for server, want := range map[string]bool{"tcp://127.0.0.1:1883": true, "ws://h/mqtt": true, "ssl://h:8883": false, "wss://h/mqtt": false, "TLS://h": false} {
		if got := plainMQTT(server); got != want {
			t.Errorf("plainMQTT(%q) = %v", server, got)
		}
	}
}
