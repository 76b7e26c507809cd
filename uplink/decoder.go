package uplink

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// DecoderOptions tune a Decoder; the zero value is ready to use.
type DecoderOptions struct {
	// Now is the agent's clock (default time.Now). It times the
	// de-duplication window and stands in for a frame without a Time.
	Now func() time.Time
	// DedupWindow is how long a delivered frame is remembered (default
	// 10 s: long enough for a second datagram, another source, or a
	// device's own retransmission of the same frame).
	DedupWindow time.Duration
	// DedupMax bounds the remembered frames (default 4096).
	DedupMax int
	// Joiner, when set, is given every join-request heard.
	Joiner *Joiner
	// OnDuplicate, when set, is given the receptions of a frame already
	// delivered (another antenna or gateway, a later datagram), with the
	// uplink it became, so that they can join it (see Merger).
	OnDuplicate func(devEUI lorawan.EUI64, fcnt uint32, recs []Reception)
	// OnReject, when set, is told of every frame of a configured device
	// that was refused (MIC failure, counter gone back), for a live view.
	// It runs under the decoder's lock: it must not block.
	OnReject func(Rejected)
}

// firstFCntEpochs bounds the search for the upper counter bits of a
// session's first frame (counters below 2^21, two million frames); it is
// also the most MIC checks a frame can cost per unheard session.
const firstFCntEpochs = 32

const (
	defaultDedupWindow = 10 * time.Second
	defaultDedupMax    = 4096
)

// Decoder turns received frames into Uplinks. It is safe for concurrent use;
// calls are serialised, so one Decoder shared by every frame source also
// de-duplicates across sources.
type Decoder struct {
	sessions *Sessions
	joiner   *Joiner
	onDup    func(devEUI lorawan.EUI64, fcnt uint32, recs []Reception)
	onReject func(Rejected)
	logger   *slog.Logger
	now      func() time.Time
	c        counters

	mu      sync.Mutex // guards everything that follows
	dedup   dedup
	rej     rejects
	scratch cryptoScratch
	used    []bool
	group   []int
}

// NewDecoder returns a Decoder over the sessions. A nil logger discards; a
// nil set keeps the counters in a private set.
func NewDecoder(s *Sessions, opts DecoderOptions, logger *slog.Logger, set *metrics.Set) *Decoder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = defaultDedupWindow
	}
	if opts.DedupMax <= 0 {
		opts.DedupMax = defaultDedupMax
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	d := &Decoder{
		sessions: s,
		joiner:   opts.Joiner,
		onDup:    opts.OnDuplicate,
		onReject: opts.OnReject,
		logger:   logger,
		now:      opts.Now,
		c:        newCounters(set),
		dedup:    newDedup(opts.DedupWindow, opts.DedupMax),
	}
	d.rej.init()
	return d
}

// Decode returns the uplinks in the frames of one datagram or message.
func (d *Decoder) Decode(frames []radio.Frame) []Uplink {
	return d.AppendDecode(nil, frames)
}

// DecodeAt is Decode at now, a reading of the decoder's clock that the
// caller took anyway (one clock reading fewer per datagram).
func (d *Decoder) DecodeAt(frames []radio.Frame, now *time.Time) []Uplink {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.appendDecode(nil, frames, now)
}

// AppendDecode appends the uplinks in frames to dst. Frames that carry the
// same PHYPayload become one Uplink with every reception, best first. Each
// distinct PHYPayload that yields no Uplink is counted once under its drop
// reason (each bad-CRC frame on its own). The Uplinks own their Payload and
// Receptions; frames may be reused afterwards.
func (d *Decoder) AppendDecode(dst []Uplink, frames []radio.Frame) []Uplink {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	return d.appendDecode(dst, frames, &now)
}

func (d *Decoder) appendDecode(dst []Uplink, frames []radio.Frame, now *time.Time) []Uplink {
	d.used = slices.Grow(d.used[:0], len(frames))[:len(frames)]
	clear(d.used)
	for i := range frames {
		if d.used[i] {
			continue
		}
		if frames[i].CRCStatus != 1 {
			d.drop(ErrBadCRC, &frames[i], nil)
			continue
		}
		d.group = append(d.group[:0], i)
		for j := i + 1; j < len(frames); j++ {
			if !d.used[j] && frames[j].CRCStatus == 1 &&
				bytes.Equal(frames[j].PHYPayload, frames[i].PHYPayload) {
				d.used[j] = true
				d.group = append(d.group, j)
			}
		}
		d.sortBest(frames)
		dst = d.decodeGroup(dst, frames, now)
	}
	return dst
}

// sortBest orders d.group by RSSI, then SNR, best first, keeping arrival
// order on ties. Groups are a handful of antennas: insertion sort.
func (d *Decoder) sortBest(frames []radio.Frame) {
	g := d.group
	for i := 1; i < len(g); i++ {
		for j := i; j > 0 && better(&frames[g[j]], &frames[g[j-1]]); j-- {
			g[j], g[j-1] = g[j-1], g[j]
		}
	}
}

func better(a, b *radio.Frame) bool {
	if a.RSSI != b.RSSI {
		return a.RSSI > b.RSSI
	}
	return a.SNR > b.SNR
}

// decodeGroup decodes the frames of d.group (one PHYPayload) and appends
// the Uplink, or counts the drop.
//
// now, the reception time and the Uplink are handled by pointer: on 32-bit
// ARM a copy of a time.Time or an Uplink is a runtime call.
func (d *Decoder) decodeGroup(dst []Uplink, frames []radio.Frame, now *time.Time) []Uplink {
	best := &frames[d.group[0]]
	phy := best.PHYPayload
	nowNs := now.UnixNano()
	key := d.dedup.key(phy)
	if e, dup := d.dedup.seen(key, nowNs); dup {
		if d.onDup != nil {
			d.onDup(e.devEUI, e.fcnt, d.receptions(frames))
		}
		d.drop(ErrDuplicate, best, nil)
		return dst
	}
	var f dataFrame
	if err := parseFrame(phy, &f); err != nil {
		if err == ErrJoinRequest && d.joiner != nil && lorawan.MType(phy[0]>>5) == lorawan.JoinRequest {
			_ = d.joiner.HandleJoinRequest(best.GatewayEUI, phy) // it counts and logs
		}
		d.drop(err, best, nil)
		return dst
	}
	cands := d.sessions.lookup(f.devAddr)
	if len(cands) == 0 {
		d.unknownAddr(f.devAddr, best, *now)
		d.drop(ErrUnknownDevAddr, best, &f)
		return dst
	}
	var at time.Time
	d.receivedAt(frames, now, &at)
	var ss *session
	var fcnt uint32
	err := ErrMICFailure
	var replayed lorawan.EUI64
	for _, c := range cands {
		fc, e := d.accept(c, &f, &at, best)
		if e == nil {
			ss, fcnt, err = c, fc, nil
			break
		}
		if e == ErrFCntReplay || e == ErrFCntGap {
			err = e // the MIC named the device; another may still own the frame
			replayed = c.DevEUI
		}
	}
	if err != nil {
		devs := []lorawan.EUI64{replayed}
		if err == ErrMICFailure {
			devs = devs[:0]
			for _, c := range cands {
				devs = append(devs, c.DevEUI)
			}
		}
		d.rejectDevices(devs, err, &f, best, *now)
		d.drop(err, best, &f)
		return dst
	}
	d.rej.accepted(ss.DevEUI)
	d.sessions.dirty.mark(ss.DevEUI, false)
	if ss.pending && d.sessions.promote(ss) {
		d.logger.Info("Device uses its new session", "dev_eui", HexUpper(ss.DevEUI[:]), "dev_addr", HexUpper(ss.DevAddr[:]), "fcnt", fcnt)
	}
	d.dedup.add(key, nowNs, ss.DevEUI, fcnt)
	if !f.hasPort || f.fport == 0 {
		d.drop(ErrMACOnly, best, &f)
		return dst
	}

	dst = append(dst, Uplink{})
	u := &dst[len(dst)-1]
	u.DevEUI, u.DevAddr, u.MType, u.ADR, u.ACK = ss.DevEUI, f.devAddr, f.mtype, f.adr(), f.ack()
	u.FCnt, u.FPort, u.MIC = fcnt, f.fport, f.mic
	u.ReceivedAt = at
	u.Frequency, u.SF, u.DataRate = best.Frequency, best.SF, best.DataRate
	u.Receptions = d.receptions(frames)
	if len(f.frm) > 0 {
		u.Payload = make([]byte, len(f.frm))
		decryptFRM(&d.scratch, ss.app, f.devAddr, fcnt, u.Payload, f.frm)
	}
	d.c.forwarded.Inc()
	if d.logger.Enabled(context.Background(), slog.LevelDebug) {
		d.logger.Debug("Uplink decoded", "dev_eui", HexUpper(u.DevEUI[:]), "dev_addr", HexUpper(u.DevAddr[:]),
			"fcnt", u.FCnt, "fport", u.FPort, "receptions", len(u.Receptions))
	}
	return dst
}

// receptions lists the antennas of d.group, best first.
func (d *Decoder) receptions(frames []radio.Frame) []Reception {
	out := make([]Reception, len(d.group))
	for i, j := range d.group {
		fr := &frames[j]
		out[i] = Reception{
			GatewayEUI: fr.GatewayEUI, RSSI: fr.RSSI, SNR: fr.SNR,
			Channel: fr.Channel, RFChain: fr.RFChain, Antenna: fr.Antenna,
			HasPosition: fr.HasPosition, Latitude: fr.Latitude, Longitude: fr.Longitude,
		}
	}
	return out
}

// receivedAt is the best reception's time, unless only another antenna had
// GPS time, in UTC; the agent's clock when no frame carries a time.
func (d *Decoder) receivedAt(frames []radio.Frame, now, at *time.Time) {
	src := &frames[d.group[0]].Time
	if !frames[d.group[0]].GPSTime {
		for _, j := range d.group[1:] {
			if frames[j].GPSTime && !frames[j].Time.IsZero() {
				src = &frames[j].Time
				break
			}
		}
	}
	if src.IsZero() {
		src = now
	}
	*at = src.UTC()
}

// accept verifies the frame against one session and, when it verifies with
// a counter the session allows, records that counter. It returns the full
// counter, ErrMICFailure or ErrFCntReplay.
func (d *Decoder) accept(s *session, f *dataFrame, at *time.Time, best *radio.Frame) (uint32, error) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	fcnt := fullFCnt(st.fcnt, st.has, f.fcnt16)
	ok := s.micOK(&d.scratch, f, fcnt)
	if !ok && s.RelaxFCnt && fcnt != uint32(f.fcnt16) {
		// A device that reset its counter sends it from zero again.
		fcnt = uint32(f.fcnt16)
		ok = s.micOK(&d.scratch, f, fcnt)
	}
	// The first frame of a session may come from a device whose counter
	// passed 65535 before the agent knew it: find its upper bits. A joined
	// session starts at 0, so it has none to find.
	for e := uint32(1); !ok && !st.has && !s.learnt && e < firstFCntEpochs; e++ {
		fcnt = e<<16 | uint32(f.fcnt16)
		ok = s.micOK(&d.scratch, f, fcnt)
	}
	if !ok {
		return 0, ErrMICFailure
	}
	if st.has && fcnt <= st.fcnt {
		// A RelaxFCnt device may have restarted, and then sends a low
		// counter; anything else that went back is a replay, and so is a
		// low frame already accepted since the last restart.
		if !s.RelaxFCnt || fcnt >= relaxResetMax || st.lowSeen(fcnt, f.mic) {
			return fcnt, ErrFCntReplay
		}
		st.restarted()
	}
	if s.LoRaWAN11 && !st.checkGap11(st.fcnt, fcnt) {
		return fcnt, ErrFCntGap
	}
	if s.RelaxFCnt {
		st.noteLow(fcnt, f.mic)
	}
	st.has, st.fcnt = true, fcnt
	st.uplinks++
	st.lastUplink, st.rssi, st.snr = *at, best.RSSI, best.SNR
	return fcnt, nil
}

// drop counts a frame that yields no Uplink. The log line is at debug
// level: frames of other networks' devices are normal on a shared gateway.
func (d *Decoder) drop(reason error, fr *radio.Frame, f *dataFrame) {
	d.c.dropped[reason].Inc()
	if !d.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if f == nil {
		d.logger.Debug("Frame dropped", "reason", reason.Error(),
			"gateway_eui", HexUpper(fr.GatewayEUI[:]), "size", len(fr.PHYPayload))
		return
	}
	d.logger.Debug("Frame dropped", "reason", reason.Error(),
		"gateway_eui", HexUpper(fr.GatewayEUI[:]), "dev_addr", HexUpper(f.devAddr[:]), "fcnt16", f.fcnt16)
}

// micOK checks the frame's MIC with the full counter fcnt. LoRaWAN 1.1's
// MIC is cmacS[0:2] | cmacF[0:2], cmacF being 1.0's computation with the
// FNwkSIntKey; only that half can be checked here (see Session.LoRaWAN11).
func (s *session) micOK(sc *cryptoScratch, f *dataFrame, fcnt uint32) bool {
	m := s.nwk.uplinkMIC(sc, f.devAddr, fcnt, f.msg)
	if s.LoRaWAN11 {
		return m[0] == f.mic[2] && m[1] == f.mic[3]
	}
	return m == f.mic
}
