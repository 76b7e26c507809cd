// Package testkit is what the tests of several packages share, each
// written once: what a gateway puts on the wire (LoRaWAN frames of ABP test
// devices, rxpk objects, GWMP PUSH_DATA datagrams, OTAA session keys), the
// built agent as a subprocess (agent.go), a recording cloud endpoint
// (sink.go), an embedded MQTT broker (broker.go), and waiting without
// sleeping (wait.go). It is imported by tests only; docs/testing.md says
// how to use it.
package testkit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/brocaar/lorawan"
)

// GatewayEUI is the EUI the test packet forwarders send.
var GatewayEUI = [8]byte{0xaa, 0x55, 0x5a, 0, 0, 0, 0x01, 0x01}

// Device is an ABP test device.
type Device struct {
	DevEUI  lorawan.EUI64
	DevAddr lorawan.DevAddr
	NwkSKey lorawan.AES128Key
	AppSKey lorawan.AES128Key
}

// NewDevice returns test device n: DevEUI 70B3D57ED00000nn, DevAddr
// 260B00nn, keys derived from n.
func NewDevice(n byte) Device {
	d := Device{
		DevEUI:  lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, n},
		DevAddr: lorawan.DevAddr{0x26, 0x0b, 0, n},
	}
	for i := range d.NwkSKey {
		d.NwkSKey[i] = byte(i) + n
		d.AppSKey[i] = byte(0xa0+i) ^ n
	}
	return d
}

// YAML is the device's entry in a configuration file's devices list.
func (d Device) YAML() string {
	return fmt.Sprintf("  - devEUI: %q\n    devAddr: %q\n    nwkSKey: %q\n    appSKey: %q\n",
		strings.ToUpper(d.DevEUI.String()), strings.ToUpper(d.DevAddr.String()), d.NwkSKey.String(), d.AppSKey.String())
}

// Frame builds a data uplink with the full counter fcnt (16 bits go on
// air); fport nil makes a frame without FPort.
func (d Device) Frame(tb testing.TB, mtype lorawan.MType, fcnt uint32, fport *uint8, payload []byte) []byte {
	tb.Helper()
	p := lorawan.PHYPayload{
		MHDR: lorawan.MHDR{MType: mtype, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.MACPayload{
			FHDR:  lorawan.FHDR{DevAddr: d.DevAddr, FCtrl: lorawan.FCtrl{ADR: true}, FCnt: fcnt},
			FPort: fport,
		},
	}
	if fport != nil {
		p.MACPayload.(*lorawan.MACPayload).FRMPayload = []lorawan.Payload{&lorawan.DataPayload{Bytes: payload}}
		key := d.AppSKey
		if *fport == 0 {
			key = d.NwkSKey
		}
		if err := p.EncryptFRMPayload(key); err != nil {
			tb.Fatal(err)
		}
	}
	if err := p.SetUplinkDataMIC(lorawan.LoRaWAN1_0, 0, 0, 0, d.NwkSKey, d.NwkSKey); err != nil {
		tb.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Up is Frame for an unconfirmed uplink on port fport.
func (d Device) Up(tb testing.TB, fcnt uint32, fport uint8, payload []byte) []byte {
	tb.Helper()
	return d.Frame(tb, lorawan.UnconfirmedDataUp, fcnt, &fport, payload)
}

// Port returns a pointer to n, for Frame.
func Port(n uint8) *uint8 { return &n }

// Rxpk is one received packet as a packet forwarder reports it.
type Rxpk struct {
	Time string  `json:"time,omitempty"`
	Tmst uint32  `json:"tmst"`
	Chan int     `json:"chan"`
	RFCh int     `json:"rfch"`
	Freq float64 `json:"freq"`
	Stat int     `json:"stat"`
	Modu string  `json:"modu"`
	Datr string  `json:"datr"`
	Codr string  `json:"codr"`
	RSSI float64 `json:"rssi"`
	LSNR float64 `json:"lsnr"`
	Size int     `json:"size"`
	Data string  `json:"data"`
}

// NewRxpk reports phy as received on 868.5 MHz, SF7BW125, CRC OK; gpsTime
// ("" for none) is the forwarder's GPS time.
func NewRxpk(phy []byte, rssi, snr float64, gpsTime string) Rxpk {
	return Rxpk{Time: gpsTime, Tmst: 123456, Chan: 2, Freq: 868.5, Stat: 1, Modu: "LORA", Datr: "SF7BW125",
		Codr: "4/5", RSSI: rssi, LSNR: snr, Size: len(phy), Data: base64.StdEncoding.EncodeToString(phy)}
}

// PushData builds a GWMP PUSH_DATA datagram from GatewayEUI.
func PushData(tb testing.TB, version byte, token uint16, pkts ...Rxpk) []byte {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"rxpk": pkts})
	if err != nil {
		tb.Fatal(err)
	}
	b := []byte{version, 0, 0, 0}
	binary.BigEndian.PutUint16(b[1:3], token)
	b = append(b, GatewayEUI[:]...)
	return append(b, body...)
}
