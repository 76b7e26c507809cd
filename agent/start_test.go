package agent

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"edgeflow/config"
	"edgeflow/radio"
)

// A start that fails half-way undoes what it did: the UDP port, the API
// port and the buffer are free again, and an agent on the same buffer
// starts.
func TestStartFailureUndoes(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path := filepath.Join(t.TempDir(), "buffer.db")
	for name, spoil := range map[string]func(*config.Config){
		"api port taken": func(c *config.Config) { c.API.Bind = taken.Addr().String() },
		"bad mqtt ca": func(c *config.Config) {
			c.PacketForwarder.MQTT = &config.MQTT{Server: "ssl://127.0.0.1:1", CAFile: "nope.pem"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.DefaultIn(config.Dirs{})
			cfg.Buffer.Path = path
			cfg.PacketForwarder.UDP.Bind = "127.0.0.1:0"
			cfg.API.Bind = "127.0.0.1:0"
			spoil(cfg)
			a, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start(context.Background()); err == nil {
				a.Stop(context.Background())
				t.Fatal("started")
			}
			if a.store != nil || a.delivery != nil {
				t.Error("buffer or delivery left open")
			}
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a.udp.Addr().(*net.UDPAddr).AddrPort()))
			if err != nil {
				t.Fatalf("UDP port still bound: %v", err)
			}
			c.Close()
			if a.api != nil {
				l, err := net.Listen("tcp", a.api.Addr().String())
				if err != nil {
					t.Fatalf("API port still bound: %v", err)
				}
				l.Close()
			}

			cfg = config.DefaultIn(config.Dirs{})
			cfg.Buffer.Path = path
			cfg.PacketForwarder.UDP.Bind = "127.0.0.1:0"
			cfg.API.Bind = "127.0.0.1:0"
			b, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Start(context.Background()); err != nil {
				t.Fatalf("start on the same buffer: %v", err)
			}
			if err := b.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sourceFunc is a radio.Source made of a function.
type sourceFunc func(context.Context) error

func (f sourceFunc) Run(ctx context.Context) error { return f(ctx) }

// The first source that fails stops the others, and its error is kept for
// Run to return.
func TestFirstSourceFailureStopsAll(t *testing.T) {
	a, err := New(config.DefaultIn(config.Dirs{}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("socket gone")
	stopped := make(chan struct{})
	a.sources = []radio.Source{
		sourceFunc(func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil }),
		sourceFunc(func(context.Context) error { return broken }),
	}
	a.runSources(context.Background())
	<-a.running.done
	<-stopped
	if !errors.Is(a.running.err, broken) {
		t.Fatalf("error %v, want %v", a.running.err, broken)
	}
	a.stopSources() // and again after the failure: no hang
}
