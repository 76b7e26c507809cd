package semtech

import (
	"net/netip"

	"edgeflow/packetfwd/gwmp"
)

// handlePullData acks and remembers the address: it is the forwarder's
// downlink socket, distinct from the one PUSH_DATA comes from.
func (r *reader) handlePullData(i int, b []byte, src netip.AddrPort) {
	s := r.s
	var p gwmp.PullDataPacket
	if err := p.UnmarshalBinary(b); err != nil {
		s.dropDatagram(src, err, b)
		return
	}
	s.gws.pullData(p.GatewayEUI, p.Version, src, s.now())
	r.ack(i, b, gwmp.PullAck)
	s.metrics.pullAcks.Inc()
}
