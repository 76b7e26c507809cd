package gwmp

// PullAckPacket acknowledges a PULL_DATA; it echoes the token and version
// and must go to the PULL_DATA's source address.
type PullAckPacket struct {
	Version uint8
	Token   [2]byte
}

// UnmarshalBinary decodes a PULL_ACK (extra bytes are ignored).
func (p *PullAckPacket) UnmarshalBinary(b []byte) error {
	h, err := checkHeader(b, PullAck, HeaderLen)
	if err != nil {
		return err
	}
	p.Version, p.Token = h.Version, h.Token
	return nil
}

// AppendBinary appends the 4-byte packet to dst.
func (p PullAckPacket) AppendBinary(dst []byte) ([]byte, error) {
	return appendHeader(dst, p.Version, p.Token, PullAck), nil
}

// MarshalBinary encodes the packet.
func (p PullAckPacket) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }
