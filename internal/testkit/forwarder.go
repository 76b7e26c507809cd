package testkit

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"testing"
	"time"
)

// Forwarder is a fake Semtech packet forwarder, as the reference one
// behaves: one socket for PUSH_DATA, another for PULL_DATA, tokens counted
// up, acks of other tokens (late, out of sync) ignored.
type Forwarder struct {
	tb       testing.TB
	Up, Down *net.UDPConn
	Agent    *net.UDPAddr
	// EUI is the gateway EUI the datagrams carry (GatewayEUI unless set).
	EUI   [8]byte
	token uint16
}

// NewForwarder opens both sockets towards the agent's UDP address; they
// close with the test.
func NewForwarder(tb testing.TB, agent string) *Forwarder {
	tb.Helper()
	addr, err := net.ResolveUDPAddr("udp", agent)
	if err != nil {
		tb.Fatal(err)
	}
	dial := func() *net.UDPConn {
		c, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		return c
	}
	return &Forwarder{tb: tb, Up: dial(), Down: dial(), Agent: addr, EUI: GatewayEUI}
}

// Push sends one PUSH_DATA with the rxpk objects and waits for its PUSH_ACK.
func (f *Forwarder) Push(version byte, pkts ...Rxpk) {
	f.tb.Helper()
	f.token++
	tok := f.token
	b := PushData(f.tb, version, tok, pkts...)
	copy(b[4:12], f.EUI[:])
	if _, err := f.Up.Write(b); err != nil {
		f.tb.Fatal(err)
	}
	f.Expect(f.Up, []byte{version, byte(tok >> 8), byte(tok), 0x01}, "PUSH_ACK")
}

// Pull sends a PULL_DATA on the downlink socket and waits for its PULL_ACK.
func (f *Forwarder) Pull(version byte) {
	f.tb.Helper()
	f.token++
	tok := f.token
	b := append([]byte{version, byte(tok >> 8), byte(tok), 0x02}, f.EUI[:]...)
	if _, err := f.Down.Write(b); err != nil {
		f.tb.Fatal(err)
	}
	f.Expect(f.Down, []byte{version, byte(tok >> 8), byte(tok), 0x04}, "PULL_ACK")
}

// Expect reads c until the datagram want arrives (acks of other tokens are
// skipped, anything else fails the test), for 10 s at most.
func (f *Forwarder) Expect(c *net.UDPConn, want []byte, what string) {
	f.tb.Helper()
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := c.Read(buf)
		if err != nil {
			f.tb.Fatalf("no %s: %v", what, err)
		}
		if n == 4 && buf[3] == want[3] && buf[0] == want[0] && (buf[1] != want[1] || buf[2] != want[2]) {
			continue
		}
		if string(buf[:n]) != string(want) {
			f.tb.Fatalf("%s = % x, want % x", what, buf[:n], want)
		}
		return
	}
}

// TryPush sends a PUSH_DATA and tells whether its PUSH_ACK came within
// wait, for an agent that may be killed at any moment.
func (f *Forwarder) TryPush(version byte, wait time.Duration, pkts ...Rxpk) bool {
	f.token++
	tok := f.token
	b := PushData(f.tb, version, tok, pkts...)
	copy(b[4:12], f.EUI[:])
	if _, err := f.Up.Write(b); err != nil {
		return false
	}
	buf := make([]byte, 16)
	_ = f.Up.SetReadDeadline(time.Now().Add(wait))
	for {
		n, err := f.Up.Read(buf)
		if err != nil {
			return false
		}
		if n == 4 && buf[1] == byte(tok>>8) && buf[2] == byte(tok) && buf[3] == 1 {
			return true
		}
	}
}

// PullResp waits (10 s at most) for the PULL_RESP the agent relays to the
// forwarder and returns its PHYPayload.
func (f *Forwarder) PullResp() []byte {
	f.tb.Helper()
	buf := make([]byte, 4096)
	_ = f.Down.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := f.Down.Read(buf)
		if err != nil {
			f.tb.Fatalf("no PULL_RESP: %v", err)
		}
		if n > 4 && buf[3] == 0x03 {
			var body struct{ TXPK struct{ Data string } }
			if err := json.Unmarshal(buf[4:n], &body); err != nil {
				f.tb.Fatal(err)
			}
			phy, err := base64.StdEncoding.DecodeString(body.TXPK.Data)
			if err != nil {
				f.tb.Fatal(err)
			}
			return phy
		}
	}
}

// Token is the token of the last datagram sent.
func (f *Forwarder) Token() uint16 { return f.token }
