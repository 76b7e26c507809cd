package semtech

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
)

// maxKeptRXPK is how many decoded rxpk the server keeps allocated between
// datagrams; typical datagrams have one to eight.
const maxKeptRXPK = 64

// handlePushData hands the frames to the handler, then acks: with persist
// "always" a PUSH_ACK thus means the uplink is on flash. If the handler
// fails there is no ack, which the forwarder reports in its ackr statistic.
func (r *reader) handlePushData(ctx context.Context, b []byte, src netip.AddrPort) {
	s, p := r.s, &r.push
	defer func() {
		// One datagram with thousands of rxpk must not pin their memory.
		if cap(p.Payload.RXPK) > maxKeptRXPK {
			p.Payload.RXPK = nil
		}
	}()
	if err := p.UnmarshalBinary(b); err != nil {
		s.dropDatagram(src, err, b)
		// With a whole header the forwarder expects an ack, and it never
		// resends: acking keeps its link statistics honest.
		if !errors.Is(err, gwmp.ErrTooShort) {
			r.ackPush(b, src)
		}
		return
	}
	now := s.now()
	pos, hasPos := s.gws.pushData(p, src, now)
	if s.cfg.Position != nil {
		pos, hasPos = *s.cfg.Position, true
	}
	s.metrics.rxpk.Add(len(p.Payload.RXPK))
	frames := framesFromPushData(p, now, pos, hasPos, func(reason string, rx *gwmp.RXPK, err error) {
		s.metrics.dropRXPK(reason)
		if reason == "crc_error" || reason == "no_crc" {
			return // routine radio noise, not worth a log line
		}
		args := []any{"reason", reason, "gateway_eui", strings.ToUpper(p.GatewayEUI.String()), "tmst", rx.Tmst}
		if err != nil {
			args = append(args, "error", err.Error())
		}
		s.rlog.Warn(src, "Dropped rxpk", args...)
	})
	if len(frames) > 0 {
		s.metrics.frames.Add(len(frames))
		if r.deferPush(b, src, p.GatewayEUI, frames) {
			return // handled with the rest of the batch, then acked
		}
		if err := s.handler.HandleFrames(ctx, frames); err != nil {
			s.metrics.handlerErrors.Inc()
			s.rlog.Warn(src, "Frames not taken, PUSH_DATA not acknowledged",
				"gateway_eui", strings.ToUpper(p.GatewayEUI.String()), "frames", len(frames), "error", err.Error())
			return
		}
	}
	r.ackPush(b, src)
}

func (r *reader) ackPush(b []byte, src netip.AddrPort) {
	if r.sendAck(b, gwmp.PushAck, src) {
		r.s.metrics.pushAcks.Inc()
	}
}

// handlePullData acks and remembers the address: it is the forwarder's
// downlink socket, distinct from the one PUSH_DATA comes from.
func (r *reader) handlePullData(b []byte, src netip.AddrPort) {
	s := r.s
	var p gwmp.PullDataPacket
	if err := p.UnmarshalBinary(b); err != nil {
		s.dropDatagram(src, err, b)
		return
	}
	s.gws.pullData(p.GatewayEUI, p.Version, src, s.now())
	if r.sendAck(b, gwmp.PullAck, src) {
		s.metrics.pullAcks.Inc()
	}
}

func (s *Server) handleTXAck(b []byte, src netip.AddrPort) {
	var p gwmp.TXAckPacket
	if err := p.UnmarshalBinary(b); err != nil {
		s.dropDatagram(src, err, b)
		return
	}
	if code := p.ErrorCode(); code != "" {
		s.metrics.txAckErrors.Inc()
		s.rlog.Warn(src, "Downlink not sent", "gateway_eui", strings.ToUpper(p.GatewayEUI.String()), "tx_error", code)
	}
}

// checkGateway finds the datagram's gateway EUI, if it has one, and
// refuses gateways not in GatewayEUIs. The datagram is relayed whole and
// undecoded afterwards, so that upstreams get what edgeflow itself cannot
// use (unknown devices, JSON it rejects).
func (s *Server) checkGateway(h gwmp.Header, b []byte, src netip.AddrPort) (eui lorawan.EUI64, hasEUI, ok bool) {
	switch h.Type {
	case gwmp.PushData, gwmp.PullData:
		if len(b) < gwmp.HeaderEUILen {
			return eui, false, true // the handler drops it as too short
		}
		copy(eui[:], b[4:12])
		hasEUI = true
	case gwmp.TXAck:
		var p gwmp.TXAckPacket
		p.UnmarshalBinary(b) // the EUI is set even when the JSON is bad
		eui, hasEUI = p.GatewayEUI, p.HasEUI
	}
	if hasEUI && !s.policy.gatewayAllowed(eui) {
		s.refuse("gateway_not_allowed", src, "gateway_eui", strings.ToUpper(eui.String()))
		return eui, hasEUI, false
	}
	return eui, hasEUI, true
}

// refuse counts and logs (at a limited rate per source) a refused datagram.
func (s *Server) refuse(reason string, src netip.AddrPort, args ...any) {
	s.policy.refused[reason].Inc()
	s.rlog.Warn(src, "Refused datagram", append([]any{"reason", reason}, args...)...)
}
