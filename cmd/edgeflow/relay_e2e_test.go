package main_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// relayNS is a stand-in network server behind the relay.
type relayNS struct {
	conn *net.UDPConn
	got  chan relayDatagram
}

type relayDatagram struct {
	from *net.UDPAddr
	b    []byte
}

func newRelayNS(t *testing.T) *relayNS {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ns := &relayNS{conn: c, got: make(chan relayDatagram, 1024)}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ns.got <- relayDatagram{from, bytes.Clone(buf[:n])}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return ns
}

// next returns the next datagram of the given GWMP type, skipping others.
func (ns *relayNS) next(t *testing.T, typ byte) relayDatagram {
	t.Helper()
	timeout := time.After(testkit.Patience)
	for {
		select {
		case d := <-ns.got:
			if len(d.b) >= 4 && d.b[3] == typ {
				return d
			}
		case <-timeout:
			t.Fatalf("network server: no datagram of type %d", typ)
		}
	}
}

// TestRelayToNetworkServer: every PUSH_DATA and PULL_DATA reaches the
// stand-in network server unchanged, its downlink reaches the forwarder's
// downlink socket, and the TX_ACK comes back with its token. Uplinks of
// devices edgeflow does not know still reach the network server.
func TestRelayToNetworkServer(t *testing.T) {
	d := newDevice(1)
	stranger := newDevice(7)
	ns := newRelayNS(t)
	ep := testkit.NewSink(t)
	cfg := strings.Replace(configText(ep.URL, "on-outage", d), `bind: "127.0.0.1:0"
api:`, fmt.Sprintf(`bind: "127.0.0.1:0"
    upstreams: ["localhost:%d"]
api:`, ns.conn.LocalAddr().(*net.UDPAddr).Port), 1)
	ag := testkit.StartAgent(t, cfg)
	fw := newForwarder(t, ag.UDP)

	fw.Pull(2)
	pull := ns.next(t, 0x02)
	if !bytes.Equal(pull.b[4:12], gatewayEUI[:]) || pull.b[1] != 0 || pull.b[2] != byte(fw.Token()) {
		t.Errorf("PULL_DATA changed on its way: % x", pull.b)
	}
	known := newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte("k")), -70, 5, "")
	unknown := newRxpk(stranger.frame(t, lorawan.UnconfirmedDataUp, 9, port(1), []byte("u")), -71, 4, "")
	sent := pushData(t, 2, fw.Token()+1, known, unknown)
	fw.Push(2, known, unknown)
	if push := ns.next(t, 0x00); !bytes.Equal(push.b, sent) {
		t.Errorf("PUSH_DATA changed on its way:\n got % x\nwant % x", push.b, sent)
	}
	ep.WaitUplinks(t, 1)

	// The network server answers the relay's socket with a downlink.
	resp := append([]byte{2, 0xbe, 0xef, 0x03}, `{"txpk":{"imme":true,"freq":869.525,"rfch":0,"powe":14,"modu":"LORA","datr":"SF9BW125","codr":"4/5","ipol":true,"size":4,"data":"AQIDBA=="}}`...)
	if _, err := ns.conn.WriteToUDP(resp, pull.from); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	_ = fw.Down.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := fw.Down.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], resp) {
		t.Fatalf("downlink on the forwarder's PULL socket: %v % x", err, buf[:n])
	}
	// The forwarder acknowledges the transmission with the PULL_RESP token.
	txAck := append([]byte{2, 0xbe, 0xef, 0x05}, gatewayEUI[:]...)
	if _, err := fw.Down.Write(txAck); err != nil {
		t.Fatal(err)
	}
	if got := ns.next(t, 0x05); !bytes.Equal(got.b, txAck) {
		t.Errorf("TX_ACK at the network server: % x, want % x", got.b, txAck)
	}
	ag.Stop(t)
}

// TestMalformedTrafficAmongUplinks: thousands of malformed and random
// datagrams and frames mixed with valid uplinks; every valid one is
// delivered and the agent stays up.
func TestMalformedTrafficAmongUplinks(t *testing.T) {
	d := newDevice(1)
	ep := testkit.NewSink(t)
	ag := testkit.StartAgent(t, configText(ep.URL, "on-outage", d))
	fw := newForwarder(t, ag.UDP)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func() []byte {
		switch rng.IntN(6) {
		case 0: // random bytes
			b := make([]byte, rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			return b
		case 1: // a PUSH_DATA header with broken JSON
			return append([]byte{2, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8}, `{"rxpk":[{"data":`...)
		case 2: // bad base64
			return append([]byte{2, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8}, `{"rxpk":[{"stat":1,"data":"%%%"}]}`...)
		case 3: // a random frame that is valid base64
			f := make([]byte, 1+rng.IntN(60))
			for i := range f {
				f[i] = byte(rng.IntN(256))
			}
			return pushData(t, 2, 7, newRxpk(f, -80, 1, ""))
		case 4: // wrong version
			return []byte{9, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, '{', '}'}
		default: // truncated
			return []byte{2, 1}
		}
	}
	junk, err := net.DialUDP("udp", nil, fw.Agent)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	const valid = 50
	for fc := uint32(1); fc <= valid; fc++ {
		for i := 0; i < 60; i++ {
			b := garbage()
			if i%2 == 0 {
				_, _ = junk.Write(b)
			} else {
				_, _ = fw.Up.Write(b)
			}
		}
		fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, fc, port(1), []byte{byte(fc)}), -70, 5, ""))
	}
	ep.WaitUplinks(t, valid)
	fw.Pull(2) // still answering
	ag.Stop(t)
}
