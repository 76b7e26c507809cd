package testkit

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BrokerOptions configures a Broker.
type BrokerOptions struct {
	// Username and Password, when set, are the only credentials accepted;
	// else anyone may connect.
	Username, Password string
	// WebSocket listens for MQTT over WebSocket instead of TCP.
	WebSocket bool
	// TLS, when set, makes the listener TLS (mqtts, wss).
	TLS *tls.Config
}

// Published is one PUBLISH the broker received from a client.
type Published struct {
	Topic   string
	Payload []byte
}

// Broker is an embedded mochi-mqtt broker on 127.0.0.1 that records what
// clients publish, in arrival order, across restarts on the same port.
type Broker struct {
	// Addr is host:port, the same after Stop and Start.
	Addr string

	tb      testing.TB
	opts    BrokerOptions
	mu      sync.Mutex
	srv     *mochi.Server
	pubs    []Published
	subs    int
	changed changes
}

// StartBroker starts a broker on a free port; it is stopped when the test
// ends.
func StartBroker(tb testing.TB, opts BrokerOptions) *Broker {
	tb.Helper()
	b := &Broker{tb: tb, opts: opts}
	// The listeners do not report the port they got: take a free one
	// first (the broker must come back on it after Stop anyway).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b.Addr = ln.Addr().String()
	ln.Close()
	b.Start()
	tb.Cleanup(b.Stop)
	return b
}

// Start starts the broker again on its port after Stop.
func (b *Broker) Start() {
	b.tb.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(&brokerHook{b: b}, nil); err != nil {
		b.tb.Fatal(err)
	}
	cfg := listeners.Config{ID: "l", Address: b.Addr, TLSConfig: b.opts.TLS}
	var l listeners.Listener = listeners.NewTCP(cfg)
	if b.opts.WebSocket {
		l = listeners.NewWebsocket(cfg)
	}
	if err := srv.AddListener(l); err != nil {
		b.tb.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		b.tb.Fatal(err)
	}
	// The websocket listener binds in the background: wait until it does.
	// (A probe of the TCP listener, which binds in AddListener, would race
	// with mochi's Close, a race inside mochi.)
	if b.opts.WebSocket {
		WaitUntil(b.tb, "the broker to listen on "+b.Addr, func() bool {
			c, err := net.Dial("tcp", b.Addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
}

// Stop stops the broker; Start starts it again. Stopping a stopped broker
// does nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv == nil {
		return
	}
	// mochi v2.7.9 can deadlock when Close meets a client that is just
	// leaving (a recursive read lock in closeListenerClients waits behind
	// the leaver's write lock): let clients that are going finish leaving.
	// The clients are real connections with no event to wait on: poll,
	// half a second at most.
	for deadline := time.Now().Add(500 * time.Millisecond); srv.Clients.Len() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Close()
}

// Publish publishes as the broker itself (a retained-less QoS 0 message).
func (b *Broker) Publish(topic string, payload []byte) {
	b.tb.Helper()
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		b.tb.Fatal("Publish on a stopped broker")
	}
	if err := srv.Publish(topic, payload, false, 0); err != nil {
		b.tb.Fatal(err)
	}
}

// Published returns what clients published so far, in arrival order.
func (b *Broker) Published() []Published {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Published(nil), b.pubs...)
}

// Subscriptions counts the SUBSCRIBEs the broker acknowledged (a client
// that subscribes again after a reconnect counts again).
func (b *Broker) Subscriptions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs
}

// Wait waits, without polling, until cond holds over what was published
// so far; the test fails after Patience.
func (b *Broker) Wait(tb testing.TB, what string, cond func(pubs []Published) bool) {
	tb.Helper()
	if !b.changed.waitFor(tb, func() bool { return cond(b.Published()) }) {
		tb.Fatalf("timed out waiting for %s at the broker (%d publishes)", what, len(b.Published()))
	}
}

// WaitSubscriptions waits until the broker acknowledged n SUBSCRIBEs.
func (b *Broker) WaitSubscriptions(tb testing.TB, n int) {
	tb.Helper()
	if !b.changed.waitFor(tb, func() bool { return b.Subscriptions() >= n }) {
		tb.Fatalf("%d subscriptions at the broker, want %d", b.Subscriptions(), n)
	}
}

type brokerHook struct {
	mochi.HookBase
	b *Broker
}

func (h *brokerHook) ID() string { return "testkit" }
func (h *brokerHook) Provides(x byte) bool {
	return x == mochi.OnConnectAuthenticate || x == mochi.OnACLCheck || x == mochi.OnPublished || x == mochi.OnSubscribed
}

func (h *brokerHook) OnConnectAuthenticate(_ *mochi.Client, pk packets.Packet) bool {
	o := h.b.opts
	return o.Username == "" && o.Password == "" ||
		string(pk.Connect.Username) == o.Username && string(pk.Connect.Password) == o.Password
}

func (h *brokerHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

func (h *brokerHook) OnPublished(cl *mochi.Client, pk packets.Packet) {
	if cl != nil && cl.Net.Inline {
		return // the broker's own Publish
	}
	h.b.mu.Lock()
	h.b.pubs = append(h.b.pubs, Published{Topic: pk.TopicName, Payload: append([]byte(nil), pk.Payload...)})
	h.b.mu.Unlock()
	h.b.changed.notify()
}

func (h *brokerHook) OnSubscribed(*mochi.Client, packets.Packet, []byte) {
	h.b.mu.Lock()
	h.b.subs++
	h.b.mu.Unlock()
	h.b.changed.notify()
}
