package semtech

import (
	"net/netip"
	"strings"

	"edgeflow/packetfwd/gwmp"
)

// handleTXAck counts and logs the downlinks the gateway could not send.
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
