package semtech

import (
	"errors"
	"net/netip"
	"strings"

	"edgeflow/packetfwd/gwmp"
)

// maxKeptRXPK is how many decoded rxpk the server keeps allocated between
// datagrams; typical datagrams have one to eight.
const maxKeptRXPK = 64

// handlePushData parses a PUSH_DATA and keeps its frames for the batch's
// handler call; its PUSH_ACK waits for that: with persist "always" a
// PUSH_ACK thus means the uplink is on flash. If the handler fails there
// is no ack, which the forwarder reports in its ackr statistic.
func (r *reader) handlePushData(i int, b []byte, src *netip.AddrPort) {
	s, p := r.s, &r.push
	if err := p.UnmarshalBinary(b); err != nil {
		s.dropDatagram(*src, err, b)
		// With a whole header the forwarder expects an ack, and it never
		// resends: acking keeps its link statistics honest.
		if !errors.Is(err, gwmp.ErrTooShort) {
			r.ack(i, b, gwmp.PushAck)
			s.metrics.pushAcks.Inc()
		}
		return
	}
	now := &r.now // the frames' time, when the forwarder gave none
	pos, hasPos := s.gws.pushData(p, src, now)
	if s.cfg.Position != nil {
		pos, hasPos = *s.cfg.Position, true
	}
	s.metrics.rxpk.Add(len(p.Payload.RXPK))
	frames := framesFromPushData(p, now, pos, hasPos, &r.rates, func(reason string, rx *gwmp.RXPK, err error) {
		s.metrics.dropRXPK(reason)
		if reason == "crc_error" || reason == "no_crc" {
			return // routine radio noise, not worth a log line
		}
		args := []any{"reason", reason, "gateway_eui", strings.ToUpper(p.GatewayEUI.String()), "tmst", rx.Tmst}
		if err != nil {
			args = append(args, "error", err.Error())
		}
		s.rlog.Warn(*src, "Dropped rxpk", args...)
	})
	if len(frames) == 0 {
		r.ack(i, b, gwmp.PushAck)
		s.metrics.pushAcks.Inc()
		return
	}
	s.metrics.frames.Add(len(frames))
	if len(r.frames) == 0 {
		r.frames = frames // the common batch of one: no copy
	} else {
		r.frames = append(r.frames, frames...)
	}
	r.pending = append(r.pending, pendingPush{i: i, ack: [gwmp.HeaderLen]byte{b[0], b[1], b[2], byte(gwmp.PushAck)},
		src: *src, gw: p.GatewayEUI, frames: len(frames)})
}
