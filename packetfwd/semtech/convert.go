package semtech

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
)

// Position is a gateway's position in degrees and metres.
type Position struct {
	Latitude  float64
	Longitude float64
	Altitude  float64
}

// maxRSig bounds the antennas of one rxpk (real multi-board gateways have a
// few dozen at most), so that a 64 KiB datagram of empty rsig entries
// cannot make tens of thousands of Frames.
const maxRSig = 64

// framesFromPushData turns the rxpk of one PUSH_DATA into Frames: one per
// rxpk, or one per antenna for Kerlink's rsig format. rxpk that the uplink
// side could not use are left out and reported to drop with a reason from
// rxpkDropReasons. recv is the agent's clock at reception; pos, when
// hasPos, is the gateway's position.
//
// Every Frame gets its own PHYPayload (handlers may keep or modify it), but
// all of them share one allocation.
func framesFromPushData(p *gwmp.PushDataPacket, recv time.Time, pos Position, hasPos bool,
	drop func(reason string, rx *gwmp.RXPK, err error)) []radio.Frame {
	if len(p.Payload.RXPK) == 0 {
		return nil
	}
	nFrames, nBytes := 0, 0
	for i := range p.Payload.RXPK {
		rx := &p.Payload.RXPK[i]
		if rx.Stat != 1 || len(rx.RSig) > maxRSig {
			continue
		}
		n := max(1, len(rx.RSig))
		nFrames += n
		nBytes += n * base64.RawStdEncoding.DecodedLen(len(strings.TrimRight(rx.Data, "=")))
	}
	frames := make([]radio.Frame, 0, nFrames)
	buf := make([]byte, 0, nBytes)
	for i := range p.Payload.RXPK {
		rx := &p.Payload.RXPK[i]
		if rx.Stat != 1 {
			drop(statReason(rx.Stat), rx, nil)
			continue
		}
		if len(rx.RSig) > maxRSig {
			drop("bad_rsig", rx, nil)
			continue
		}
		start := len(buf)
		var err error
		if buf, err = rx.AppendPayload(buf); err != nil {
			drop(gwmp.Reason(err), rx, err)
			continue
		}
		payload := buf[start:len(buf):len(buf)]
		if len(payload) == 0 {
			drop("empty_payload", rx, nil)
			continue
		}
		f, ok := baseFrame(p.GatewayEUI, rx, recv)
		if !ok {
			buf = buf[:start]
			drop("bad_datr", rx, nil)
			continue
		}
		f.PHYPayload = payload
		if hasPos {
			f.HasPosition, f.Latitude, f.Longitude, f.Altitude = true, pos.Latitude, pos.Longitude, pos.Altitude
		}
		if len(rx.RSig) == 0 {
			frames = append(frames, f)
			continue
		}
		for j, sig := range rx.RSig {
			if j > 0 {
				start := len(buf)
				buf = append(buf, payload...)
				f.PHYPayload = buf[start:len(buf):len(buf)]
			}
			f.Antenna, f.Channel, f.RSSI, f.SNR = sig.Ant, sig.Chan, sig.RSSIC, sig.LSNR
			frames = append(frames, f)
		}
	}
	return frames
}

// baseFrame fills the fields that come from the rxpk itself. ok is false
// for a LoRa rxpk whose data rate cannot be read.
func baseFrame(eui lorawan.EUI64, rx *gwmp.RXPK, recv time.Time) (radio.Frame, bool) {
	f := radio.Frame{
		GatewayEUI: eui,
		Time:       recv,
		Tmst:       rx.Tmst,
		Frequency:  rx.Freq,
		Modulation: rx.Modu,
		DataRate:   rx.DatR.String(),
		CodeRate:   rx.CodR,
		Channel:    rx.Chan,
		RFChain:    rx.RFCh,
		Board:      rx.Brd,
		RSSI:       rx.RSSI,
		SNR:        rx.LSNR,
		CRCStatus:  rx.Stat,
	}
	if t := rx.Time.Time; !t.IsZero() && !t.Before(radio.MinGPSTime) {
		f.Time, f.GPSTime = t, true
	}
	if sf, bw, ok := gwmp.ParseLoRaDataRate(rx.DatR.LoRa); ok {
		f.SF, f.Bandwidth = sf, bw
	} else if rx.Modu == "LORA" {
		return f, false
	}
	return f, true
}

func statReason(stat int) string {
	switch stat {
	case -1:
		return "crc_error"
	case 0:
		return "no_crc"
	default:
		return "bad_stat"
	}
}
