package gwmp

import "github.com/brocaar/lorawan"

// PullDataPacket is the forwarder's keep-alive on its downlink socket. Its
// source address is where PULL_ACK and PULL_RESP must go.
type PullDataPacket struct {
	Version    uint8
	Token      [2]byte
	GatewayEUI lorawan.EUI64
}

// UnmarshalBinary decodes a PULL_DATA. The packet is 12 bytes; trailing
// bytes (a vendor's NUL) are tolerated.
func (p *PullDataPacket) UnmarshalBinary(b []byte) error {
	h, err := checkHeader(b, PullData, HeaderEUILen)
	if err != nil {
		return err
	}
	p.Version, p.Token = h.Version, h.Token
	copy(p.GatewayEUI[:], b[4:12])
	return nil
}

// MarshalBinary encodes the packet.
func (p PullDataPacket) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, HeaderEUILen)
	b = appendHeader(b, p.Version, p.Token, PullData)
	return append(b, p.GatewayEUI[:]...), nil
}
