package main_test

import (
	"net"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// The agent under test is built once (testkit.AgentBinary) and removed at
// the end.
func TestMain(m *testing.M) { testkit.Main(m) }

// device is an ABP test device (see testkit.Device).
type device struct {
	devEUI  lorawan.EUI64
	devAddr lorawan.DevAddr
	nwkSKey lorawan.AES128Key
	appSKey lorawan.AES128Key
}

func newDevice(n byte) device {
	k := testkit.NewDevice(n)
	return device{k.DevEUI, k.DevAddr, k.NwkSKey, k.AppSKey}
}

func (d device) kit() testkit.Device {
	return testkit.Device{DevEUI: d.devEUI, DevAddr: d.devAddr, NwkSKey: d.nwkSKey, AppSKey: d.appSKey}
}

func (d device) yaml() string { return d.kit().YAML() }

// frame builds a data uplink with the full counter fcnt (16 bits on air).
func (d device) frame(t testing.TB, mtype lorawan.MType, fcnt uint32, fport *uint8, payload []byte) []byte {
	t.Helper()
	return d.kit().Frame(t, mtype, fcnt, fport, payload)
}

func port(n uint8) *uint8 { return testkit.Port(n) }

type rxpk = testkit.Rxpk

func newRxpk(phy []byte, rssi, snr float64, gpsTime string) rxpk {
	return testkit.NewRxpk(phy, rssi, snr, gpsTime)
}

var gatewayEUI = testkit.GatewayEUI

// pushData builds a GWMP PUSH_DATA datagram.
func pushData(t testing.TB, version byte, token uint16, pkts ...rxpk) []byte {
	t.Helper()
	return testkit.PushData(t, version, token, pkts...)
}

// forwarder is a fake packet forwarder: one socket for PUSH_DATA, another
// for PULL_DATA, as the reference forwarder does.
type forwarder struct {
	t          testing.TB
	up, down   *net.UDPConn
	agent      *net.UDPAddr
	tokenCount uint16
}

func newForwarder(t testing.TB, agent string) *forwarder {
	addr, err := net.ResolveUDPAddr("udp", agent)
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	down, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close(); down.Close() })
	return &forwarder{t: t, up: up, down: down, agent: addr}
}

// push sends a PUSH_DATA and waits for its PUSH_ACK.
func (f *forwarder) push(version byte, pkts ...rxpk) {
	f.t.Helper()
	f.tokenCount++
	tok := f.tokenCount
	if _, err := f.up.Write(pushData(f.t, version, tok, pkts...)); err != nil {
		f.t.Fatal(err)
	}
	want := []byte{version, byte(tok >> 8), byte(tok), 0x01}
	f.expect(f.up, want, "PUSH_ACK")
}

func (f *forwarder) pull(version byte) {
	f.t.Helper()
	f.tokenCount++
	tok := f.tokenCount
	b := []byte{version, byte(tok >> 8), byte(tok), 0x02}
	b = append(b, gatewayEUI[:]...)
	if _, err := f.down.Write(b); err != nil {
		f.t.Fatal(err)
	}
	f.expect(f.down, []byte{version, byte(tok >> 8), byte(tok), 0x04}, "PULL_ACK")
}

func (f *forwarder) expect(c *net.UDPConn, want []byte, what string) {
	f.t.Helper()
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := c.Read(buf)
		if err != nil {
			f.t.Fatalf("no %s: %v", what, err)
		}
		// Like the reference forwarder, ignore acks of other tokens
		// (out-of-sync acks); anything else is wrong.
		if n == 4 && buf[3] == want[3] && buf[0] == want[0] && (buf[1] != want[1] || buf[2] != want[2]) {
			continue
		}
		if string(buf[:n]) != string(want) {
			f.t.Fatalf("%s = % x, want % x", what, buf[:n], want)
		}
		return
	}
}
