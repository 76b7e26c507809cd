package main_test

import (
	"testing"

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

// forwarder is testkit's fake packet forwarder.
type forwarder = testkit.Forwarder

func newForwarder(t testing.TB, agent string) *forwarder { return testkit.NewForwarder(t, agent) }
