package semtech

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
)

// handleDatagram handles datagram i of the batch, from src. b is only
// valid until the next read.
func (r *reader) handleDatagram(i int, b []byte, src *netip.AddrPort) {
	s := r.s
	h, err := gwmp.ParseHeader(b)
	if err != nil {
		s.dropDatagram(*src, err, b)
		return
	}
	s.metrics.received[h.Type].Inc()
	eui, hasEUI, ok := s.checkGateway(h, b, src)
	if !ok {
		return
	}
	switch h.Type {
	case gwmp.PushData:
		// Relayed first: the handler may wait for flash, upstreams need not.
		s.relay.Forward(h.Type, b, eui, hasEUI)
		r.handlePushData(i, b, src)
	case gwmp.PullData:
		// Relayed after the downlink path is recorded, so that an upstream
		// answering at once with a PULL_RESP finds it.
		r.handlePullData(i, b, *src)
		s.relay.Forward(h.Type, b, eui, hasEUI)
	case gwmp.TXAck:
		s.handleTXAck(b, *src)
		s.relay.Forward(h.Type, b, eui, hasEUI)
	default:
		s.metrics.drop("unexpected_type")
		s.rlog.Warn(*src, "Dropped datagram", "reason", "unexpected_type", "type", h.Type.String())
	}
}

// checkGateway finds the datagram's gateway EUI, if it has one, and
// refuses gateways not in GatewayEUIs. The datagram is relayed whole and
// undecoded afterwards, so that upstreams get what edgeflow itself cannot
// use (unknown devices, JSON it rejects).
func (s *Server) checkGateway(h gwmp.Header, b []byte, src *netip.AddrPort) (eui lorawan.EUI64, hasEUI, ok bool) {
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
		s.refuse("gateway_not_allowed", *src, "gateway_eui", strings.ToUpper(eui.String()))
		return eui, hasEUI, false
	}
	return eui, hasEUI, true
}

// refuse counts and logs (at a limited rate per source) a refused datagram.
func (s *Server) refuse(reason string, src netip.AddrPort, args ...any) {
	s.policy.refused[reason].Inc()
	s.rlog.Warn(src, "Refused datagram", append([]any{"reason", reason}, args...)...)
}

func (s *Server) dropDatagram(src netip.AddrPort, err error, b []byte) {
	reason := gwmp.Reason(err)
	s.metrics.drop(reason)
	s.rlog.Warn(src, "Dropped datagram", "reason", reason, "error", err.Error(), "size", len(b), "data", quoteData(b))
}

// quoteData shows the start of a bad datagram in logs, enough to recognise
// a misconfigured sender without flooding the log.
func quoteData(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
