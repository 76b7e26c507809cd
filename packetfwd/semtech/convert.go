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
func framesFromPushData(p *gwmp.PushDataPacket, recv *time.Time, pos Position, hasPos bool, rates *loraRates,
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
		// The frame is filled in place: a radio.Frame (about 150 bytes)
		// returned and appended by value was copied twice.
		frames = append(frames, radio.Frame{})
		f := &frames[len(frames)-1]
		if !baseFrame(f, p.GatewayEUI, rx, recv, rates) {
			frames = frames[:len(frames)-1]
			buf = buf[:start]
			drop("bad_datr", rx, nil)
			continue
		}
		f.PHYPayload = payload
		if hasPos {
			f.HasPosition, f.Latitude, f.Longitude, f.Altitude = true, pos.Latitude, pos.Longitude, pos.Altitude
		}
		if len(rx.RSig) == 0 {
			continue
		}
		first := len(frames) - 1
		for j := range rx.RSig {
			sig := &rx.RSig[j]
			if j > 0 {
				frames = append(frames, frames[first])
				f = &frames[len(frames)-1]
				start := len(buf)
				buf = append(buf, payload...)
				f.PHYPayload = buf[start:len(buf):len(buf)]
			}
			f.Antenna, f.Channel, f.RSSI, f.SNR = sig.Ant, sig.Chan, sig.RSSIC, sig.LSNR
		}
	}
	return frames
}

// loraRates remembers the last LoRa data rate parsed: a forwarder repeats
// a few, and parsing one (two Atoi, two cuts) cost about 350 instructions
// per rxpk on 32-bit ARM. The reader keeps one; nil parses every time.
type loraRates struct {
	s       string
	sf, bw  int
	ok, set bool
}

func (c *loraRates) parse(s string) (sf, bw int, ok bool) {
	if c == nil {
		return gwmp.ParseLoRaDataRate(s)
	}
	if !c.set || s != c.s {
		c.sf, c.bw, c.ok = gwmp.ParseLoRaDataRate(s)
		c.s, c.set = s, true
	}
	return c.sf, c.bw, c.ok
}

// baseFrame fills f, a zero Frame, with the fields that come from the rxpk
// itself. It reports false for a LoRa rxpk whose data rate cannot be read.
func baseFrame(f *radio.Frame, eui lorawan.EUI64, rx *gwmp.RXPK, recv *time.Time, rates *loraRates) bool {
	f.GatewayEUI = eui
	f.Tmst = rx.Tmst
	f.Frequency = rx.Freq
	f.Modulation = rx.Modu
	f.DataRate = rx.DatR.String()
	f.CodeRate = rx.CodR
	f.Channel = rx.Chan
	f.RFChain = rx.RFCh
	f.Board = rx.Brd
	f.RSSI = rx.RSSI
	f.SNR = rx.LSNR
	f.CRCStatus = rx.Stat
	if t := &rx.Time.Time; !t.IsZero() && !t.Before(radio.MinGPSTime) {
		f.Time, f.GPSTime = *t, true
	} else {
		f.Time = *recv
	}
	if sf, bw, ok := rates.parse(rx.DatR.LoRa); ok {
		f.SF, f.Bandwidth = sf, bw
	} else if rx.Modu == "LORA" {
		return false
	}
	return true
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
