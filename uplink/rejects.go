package uplink

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// What a technician reads next to a rejected frame: the likely cause, in
// words, and where to look.
const (
	HintMICFailure = "check nwkSKey/devAddr (or the OTAA join was not seen)"
	HintFCntReplay = "the device restarted its counter (see relaxFCnt) or a frame was replayed"
	HintUnknown    = "no configured device has this devAddr: check devAddr, or the OTAA join was not seen"
)

// Hint is the advice for a drop reason, "" when there is none.
func Hint(reason string) string {
	switch reason {
	case ErrMICFailure.Error():
		return HintMICFailure
	case ErrFCntReplay.Error():
		return HintFCntReplay
	case ErrUnknownDevAddr.Error():
		return HintUnknown
	}
	return ""
}

// warnEvery is how often one device's rejected frames are logged at WARN:
// a device with a wrong key sends every few minutes for days.
const warnEvery = 10 * time.Minute

// Rejection is the last frame of a configured device that was not accepted.
type Rejection struct {
	Reason string    // ErrMICFailure or ErrFCntReplay's text
	At     time.Time // agent clock
	// Count is the frames rejected since the device's last accepted one.
	Count  uint64
	FCnt16 uint16 // the frame's 16-bit counter
}

// Rejected is one refused frame of a configured device, as OnReject gets it.
type Rejected struct {
	DevEUI  lorawan.EUI64
	DevAddr lorawan.DevAddr
	Reason  string
	FCnt16  uint16
	At      time.Time // agent clock
	RSSI    float64
	SNR     float64
	Gateway lorawan.EUI64
}

// UnknownAddr is a DevAddr heard that no session has.
type UnknownAddr struct {
	DevAddr  lorawan.DevAddr
	Count    uint64
	First    time.Time
	Last     time.Time
	BestRSSI float64
	Gateway  lorawan.EUI64 // that heard it with BestRSSI
}

// unknownMax bounds the unknown DevAddrs remembered: a gateway in a city
// hears hundreds of other networks' devices. When full, the one heard
// least recently goes.
const (
	unknownMax    = 64
	unknownMaxAge = 24 * time.Hour
)

type rejectState struct {
	Rejection
	warned     time.Time // last WARN
	suppressed uint64    // rejections since it not logged
}

// rejects holds the decoder's record of rejected frames; the decoder's
// lock guards it.
type rejects struct {
	byDev   map[lorawan.EUI64]*rejectState
	unknown map[lorawan.DevAddr]*UnknownAddr
}

func (r *rejects) init() {
	r.byDev = map[lorawan.EUI64]*rejectState{}
	r.unknown = map[lorawan.DevAddr]*UnknownAddr{}
}

// accepted: a good frame ends the device's run of rejections.
func (r *rejects) accepted(dev lorawan.EUI64) {
	if len(r.byDev) == 0 {
		return // the usual case: no lookup (an [8]byte key is hashed generically)
	}
	if s := r.byDev[dev]; s != nil {
		s.Count = 0
	}
}

// rejectDevices records a frame rejected for the devices the DevAddr (MIC
// failure) or the MIC (counter replay) pointed at, and logs one WARN per
// device per warnEvery.
func (d *Decoder) rejectDevices(devs []lorawan.EUI64, reason error, f *dataFrame, fr *radio.Frame, now time.Time) {
	for i, dev := range devs {
		if slices.Contains(devs[:i], dev) { // a pending session of the same device
			continue
		}
		s := d.rej.byDev[dev]
		if s == nil {
			s = &rejectState{}
			d.rej.byDev[dev] = s
		}
		s.Reason, s.At, s.FCnt16 = reason.Error(), now, f.fcnt16
		s.Count++
		if d.onReject != nil {
			d.onReject(Rejected{DevEUI: dev, DevAddr: f.devAddr, Reason: s.Reason, FCnt16: f.fcnt16, At: now,
				RSSI: fr.RSSI, SNR: fr.SNR, Gateway: fr.GatewayEUI})
		}
		if !s.warned.IsZero() && now.Sub(s.warned) < warnEvery {
			s.suppressed++
			continue
		}
		d.logger.Warn("Frame of a configured device rejected", "dev_eui", HexUpper(dev[:]), "dev_addr", HexUpper(f.devAddr[:]),
			"reason", s.Reason, "hint", Hint(s.Reason), "fcnt16", f.fcnt16, "since_last_good", s.Count,
			"not_logged_since_last_warning", s.suppressed, "gateway_eui", HexUpper(fr.GatewayEUI[:]), "rssi", fr.RSSI)
		s.warned, s.suppressed = now, 0
	}
}

// unknownAddr records a frame whose DevAddr no session has.
func (d *Decoder) unknownAddr(addr lorawan.DevAddr, fr *radio.Frame, now time.Time) {
	u := d.rej.unknown[addr]
	if u == nil {
		if len(d.rej.unknown) >= unknownMax {
			var oldest *UnknownAddr
			for _, x := range d.rej.unknown {
				if oldest == nil || x.Last.Before(oldest.Last) {
					oldest = x
				}
			}
			delete(d.rej.unknown, oldest.DevAddr)
		}
		u = &UnknownAddr{DevAddr: addr, First: now, BestRSSI: fr.RSSI, Gateway: fr.GatewayEUI}
		d.rej.unknown[addr] = u
	}
	u.Count++
	u.Last = now
	if fr.RSSI > u.BestRSSI {
		u.BestRSSI, u.Gateway = fr.RSSI, fr.GatewayEUI
	}
}

// Rejections returns the last rejection of every device that had one.
func (d *Decoder) Rejections() map[lorawan.EUI64]Rejection {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[lorawan.EUI64]Rejection, len(d.rej.byDev))
	for e, s := range d.rej.byDev {
		out[e] = s.Rejection
	}
	return out
}

// UnknownAddrs returns the unknown DevAddrs heard in the last day, most
// recently heard first.
func (d *Decoder) UnknownAddrs() []UnknownAddr {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	out := make([]UnknownAddr, 0, len(d.rej.unknown))
	for a, u := range d.rej.unknown {
		if now.Sub(u.Last) > unknownMaxAge {
			delete(d.rej.unknown, a)
			continue
		}
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b UnknownAddr) int {
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return cmp.Compare(strings.ToUpper(a.DevAddr.String()), strings.ToUpper(b.DevAddr.String()))
	})
	return out
}

// HexUpper prints an EUI or DevAddr as ThingPark does: upper-case hex.
func HexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
