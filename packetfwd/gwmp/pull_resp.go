package gwmp

import "encoding/json"

// PullRespPacket carries a downlink to the forwarder. It has no gateway EUI.
// In version 1 the token bytes were unused and are sent as zero.
type PullRespPacket struct {
	Version uint8
	Token   [2]byte
	Payload PullRespPayload
}

// PullRespPayload is the JSON object of a PULL_RESP.
type PullRespPayload struct {
	TXPK TXPK `json:"txpk"`
}

// TXPK is one downlink to transmit. Tmst and Tmms are pointers because
// 0 is a valid time and absence selects another timing mode.
type TXPK struct {
	Imme bool     `json:"imme,omitempty"` // send immediately
	Tmst *uint32  `json:"tmst,omitempty"` // at this concentrator time
	Tmms *int64   `json:"tmms,omitempty"` // at this GPS time (ms)
	Freq float64  `json:"freq"`           // MHz
	RFCh int      `json:"rfch"`
	Powe int      `json:"powe"` // dBm
	Modu string   `json:"modu"`
	DatR DataRate `json:"datr"`
	CodR string   `json:"codr,omitempty"`
	FDev int      `json:"fdev,omitempty"` // FSK deviation, Hz
	IPol bool     `json:"ipol"`
	Prea int      `json:"prea,omitempty"`
	Size int      `json:"size"`
	Data string   `json:"data"` // base64
	NCRC bool     `json:"ncrc,omitempty"`
	NHdr bool     `json:"nhdr,omitempty"`
	// Brd and Ant are vendor extensions that some gateways refuse
	// (chirpstack-gateway-bridge#75), hence pointers: sent only when set.
	Brd *int `json:"brd,omitempty"`
	Ant *int `json:"ant,omitempty"`
}

// Payload decodes Data.
func (t *TXPK) Payload() ([]byte, error) { return appendBase64(nil, t.Data) }

// SetPayload stores b as base64 in Data and its length in Size.
func (t *TXPK) SetPayload(b []byte) {
	t.Data = encodeBase64(b)
	t.Size = len(b)
}

// UnmarshalBinary decodes a PULL_RESP.
func (p *PullRespPacket) UnmarshalBinary(b []byte) error {
	h, err := checkHeader(b, PullResp, HeaderLen)
	if err != nil {
		return err
	}
	p.Version, p.Token = h.Version, h.Token
	p.Payload = PullRespPayload{}
	js := trimJSON(b[HeaderLen:])
	if len(js) == 0 {
		return ErrNoJSON
	}
	if err := json.Unmarshal(js, &p.Payload); err != nil {
		return wrap(ErrBadJSON, err)
	}
	return nil
}

// MarshalBinary encodes the packet.
func (p PullRespPacket) MarshalBinary() ([]byte, error) {
	js, err := json.Marshal(p.Payload)
	if err != nil {
		return nil, err
	}
	token := p.Token
	if p.Version == Version1 {
		token = [2]byte{}
	}
	b := make([]byte, 0, HeaderLen+len(js))
	b = appendHeader(b, p.Version, token, PullResp)
	return append(b, js...), nil
}
