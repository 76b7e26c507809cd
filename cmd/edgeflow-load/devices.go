package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/brocaar/lorawan"
)

// device is an ABP device whose frames the tool builds; its keys derive
// from its index, so the agent's configuration and the frames agree.
type device struct {
	devEUI  lorawan.EUI64
	devAddr lorawan.DevAddr
	nwkSKey lorawan.AES128Key
	appSKey lorawan.AES128Key
}

// liveEUIByte marks DevEUIs of devices that send over UDP; prefilled
// backlogs use another value, so the endpoint can tell them apart.
const (
	liveEUIByte    = 0xd0
	prefillEUIByte = 0xd1
)

func newDevice(n int, kind byte) device {
	d := device{
		devEUI:  lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, kind, byte(n >> 16), byte(n >> 8), byte(n)},
		devAddr: lorawan.DevAddr{0x26, byte(n >> 16), byte(n >> 8), byte(n)},
	}
	for i := range d.nwkSKey {
		d.nwkSKey[i] = byte(i) + byte(n)
		d.appSKey[i] = byte(0xa0+i) ^ byte(n>>8)
	}
	return d
}

func (d device) yaml() string {
	return fmt.Sprintf("  - devEUI: %q\n    devAddr: %q\n    nwkSKey: %q\n    appSKey: %q\n",
		strings.ToUpper(d.devEUI.String()), strings.ToUpper(d.devAddr.String()), d.nwkSKey.String(), d.appSKey.String())
}

// frame builds an unconfirmed data uplink on FPort 1 with full counter fcnt.
func (d device) frame(fcnt uint32, payload []byte) ([]byte, error) {
	fport := uint8(1)
	p := lorawan.PHYPayload{
		MHDR: lorawan.MHDR{MType: lorawan.UnconfirmedDataUp, Major: lorawan.LoRaWANR1},
		MACPayload: &lorawan.MACPayload{
			FHDR:       lorawan.FHDR{DevAddr: d.devAddr, FCtrl: lorawan.FCtrl{ADR: true}, FCnt: fcnt},
			FPort:      &fport,
			FRMPayload: []lorawan.Payload{&lorawan.DataPayload{Bytes: payload}},
		},
	}
	if err := p.EncryptFRMPayload(d.appSKey); err != nil {
		return nil, err
	}
	if err := p.SetUplinkDataMIC(lorawan.LoRaWAN1_0, 0, 0, 0, d.nwkSKey, d.nwkSKey); err != nil {
		return nil, err
	}
	return p.MarshalBinary()
}

// schedule says which device and counter the i-th uplink has: devices take
// turns, so each device's counter rises by one per round.
type schedule struct{ devices int }

func (s schedule) uplink(i int) (dev int, fcnt uint32) {
	return i % s.devices, uint32(i/s.devices) + 1
}

// index is the inverse of uplink, for the endpoint's latency lookup.
func (s schedule) index(dev int, fcnt uint32) int {
	return int(fcnt-1)*s.devices + dev
}

var gatewayEUI = [8]byte{0xaa, 0x55, 0x5a, 0, 0, 0, 0x01, 0x01}

// buildDatagrams prebuilds every PUSH_DATA of the load (token left zero),
// so that building frames costs nothing while the agent is measured.
func buildDatagrams(devs []device, sch schedule, uplinks, perDatagram, payloadLen int) ([][]byte, error) {
	payload := make([]byte, payloadLen)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	var out [][]byte
	for i := 0; i < uplinks; i += perDatagram {
		b := []byte{2, 0, 0, 0}
		b = append(b, gatewayEUI[:]...)
		b = append(b, `{"rxpk":[`...)
		for j := i; j < min(i+perDatagram, uplinks); j++ {
			dev, fcnt := sch.uplink(j)
			phy, err := devs[dev].frame(fcnt, payload)
			if err != nil {
				return nil, err
			}
			if j > i {
				b = append(b, ',')
			}
			b = appendRxpk(b, phy, uint32(j))
		}
		b = append(b, "]}"...)
		out = append(out, b)
	}
	return out, nil
}

func appendRxpk(b, phy []byte, tmst uint32) []byte {
	b = append(b, `{"tmst":`...)
	b = strconv.AppendUint(b, uint64(tmst), 10)
	b = append(b, `,"chan":2,"rfch":0,"freq":868.5,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","rssi":-57,"lsnr":9.5,"size":`...)
	b = strconv.AppendInt(b, int64(len(phy)), 10)
	b = append(b, `,"data":"`...)
	b = base64.StdEncoding.AppendEncode(b, phy)
	return append(b, `"}`...)
}

// setToken writes the GWMP token of a PUSH_DATA.
func setToken(dgram []byte, tok uint16) { binary.BigEndian.PutUint16(dgram[1:3], tok) }
