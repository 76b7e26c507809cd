package gwmp

// PushAckPacket acknowledges a PUSH_DATA; it echoes the token and version.
type PushAckPacket struct {
	Version uint8
	Token   [2]byte
}

// UnmarshalBinary decodes a PUSH_ACK (extra bytes are ignored).
func (p *PushAckPacket) UnmarshalBinary(b []byte) error {
	h, err := checkHeader(b, PushAck, HeaderLen)
	if err != nil {
		return err
	}
	p.Version, p.Token = h.Version, h.Token
	return nil
}

// AppendBinary appends the 4-byte packet to dst, so that the server acks
// without allocating.
func (p PushAckPacket) AppendBinary(dst []byte) ([]byte, error) {
	return appendHeader(dst, p.Version, p.Token, PushAck), nil
}

// MarshalBinary encodes the packet.
func (p PushAckPacket) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }
