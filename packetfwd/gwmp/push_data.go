package gwmp

import (
	"encoding/json"

	"github.com/brocaar/lorawan"
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// PushDataPacket is what a forwarder sends upstream: received frames (rxpk)
// and/or its status (stat), from the gateway identified by GatewayEUI.
type PushDataPacket struct {
	Version    uint8
	Token      [2]byte
	GatewayEUI lorawan.EUI64
	Payload    PushDataPayload

	fast *fastDecoder // scratch space of UnmarshalBinary's fast path
}

// PushDataPayload is the JSON object of a PUSH_DATA.
type PushDataPayload struct {
	RXPK []RXPK `json:"rxpk,omitempty"`
	Stat *Stat  `json:"stat,omitempty"`
}

// RXPK is one received frame. Core fields (PROTOCOL.TXT §4) carry no
// omitempty because zero is meaningful for them; extensions do.
type RXPK struct {
	JVer  int         `json:"jver,omitempty"`  // sx1302 JSON format version
	Time  CompactTime `json:"time,omitzero"`   // GPS time; absent without GPS
	Tmms  int64       `json:"tmms,omitempty"`  // GPS ms since 1980-01-06
	Tmst  uint32      `json:"tmst"`            // concentrator µs counter
	Tm32  uint32      `json:"tm32,omitempty"`  // SX1303 32-bit counter
	FTime int64       `json:"ftime,omitempty"` // fine timestamp, ns since PPS
	Freq  float64     `json:"freq"`            // MHz
	Chan  int         `json:"chan"`
	RFCh  int         `json:"rfch"`
	MID   int         `json:"mid,omitempty"` // concentrator modem id
	Brd   int         `json:"brd,omitempty"` // board (Kerlink)
	AESK  int         `json:"aesk,omitempty"`
	Stat  int         `json:"stat"` // CRC: 1 OK, -1 bad, 0 none
	Modu  string      `json:"modu"` // "LORA", "FSK", "LR-FHSS"
	DatR  DataRate    `json:"datr"`
	CodR  string      `json:"codr,omitempty"`
	HPW   int         `json:"hpw,omitempty"` // LR-FHSS hopping grid
	// Radio figures are floats because some forwarders print fractions.
	RSSI  float64 `json:"rssi"`            // channel RSSI, dBm
	RSSIS float64 `json:"rssis,omitempty"` // signal RSSI, dBm
	LSNR  float64 `json:"lsnr"`            // dB
	FOff  float64 `json:"foff,omitempty"`  // Hz
	Size  int     `json:"size"`
	// Data stays base64 text so that one bad payload costs only its own
	// rxpk, not the datagram; decode it with Payload or AppendPayload.
	Data string            `json:"data"`
	RSig []RSig            `json:"rsig,omitempty"`
	Meta map[string]string `json:"meta,omitempty"`
}

// RSig is one antenna's reception in Kerlink's multi-antenna format, where
// the rxpk's own rssi/lsnr/chan may be missing.
type RSig struct {
	Ant    int     `json:"ant"`
	Chan   int     `json:"chan"`
	RSSIC  float64 `json:"rssic"`            // channel RSSI
	RSSIS  float64 `json:"rssis,omitempty"`  // signal RSSI
	RSSISD float64 `json:"rssisd,omitempty"` // RSSI std-dev over preamble
	LSNR   float64 `json:"lsnr"`
	ETime  string  `json:"etime,omitempty"` // encrypted fine timestamp, base64
	FTime  int64   `json:"ftime,omitempty"`
	FOff   float64 `json:"foff,omitempty"`
	FDri   float64 `json:"fdri,omitempty"` // LR-FHSS drift
}

// Payload decodes Data (standard alphabet, padded or not).
func (r *RXPK) Payload() ([]byte, error) { return r.AppendPayload(nil) }

// AppendPayload decodes Data and appends it to dst, so that callers can
// decode the payloads of a whole datagram into one allocation.
func (r *RXPK) AppendPayload(dst []byte) ([]byte, error) { return appendBase64(dst, r.Data) }

// SetPayload stores b as padded base64 in Data and its length in Size.
func (r *RXPK) SetPayload(b []byte) {
	r.Data = encodeBase64(b)
	r.Size = len(b)
}

// start reads the header into p, empties its payload and returns the JSON.
func (p *PushDataPacket) start(b []byte) ([]byte, error) {
	h, err := checkHeader(b, PushData, HeaderEUILen)
	if err != nil {
		return nil, err
	}
	p.Version, p.Token = h.Version, h.Token
	copy(p.GatewayEUI[:], b[4:12])
	p.resetPayload()
	js := trimJSON(b[HeaderEUILen:])
	if len(js) == 0 {
		return nil, ErrNoJSON
	}
	return js, nil
}

// resetPayload empties the payload, keeping the RXPK array (zeroed).
func (p *PushDataPacket) resetPayload() {
	clear(p.Payload.RXPK[:cap(p.Payload.RXPK)])
	p.Payload.RXPK = p.Payload.RXPK[:0]
	p.Payload.Stat = nil
}

// UnmarshalBinary decodes a PUSH_DATA. It reuses p's RXPK slice (zeroed) so
// that a long-lived PushDataPacket decodes without growing garbage.
//
// The JSON is decoded with encoding/json's semantics by go-json-experiment
// (DefaultOptionsV1), the decoder of record. What forwarders send (exact
// keys, once each, no null, no stat) takes a fast path on the library's
// tokenizer instead, without reflection (1.5× faster on the ARM build);
// it gives up on anything else, and the library decodes the datagram
// again from scratch (docs/decisions/gwmp-decoder.md).
func (p *PushDataPacket) UnmarshalBinary(b []byte) error {
	js, err := p.start(b)
	if err != nil {
		return err
	}
	if p.decodeFast(js) {
		return nil
	}
	p.resetPayload()
	if err := jsonv2.Unmarshal(js, &p.Payload, jsonv1.DefaultOptionsV1()); err != nil {
		return wrap(ErrBadJSON, err)
	}
	return nil
}

// MarshalBinary encodes the packet.
func (p PushDataPacket) MarshalBinary() ([]byte, error) {
	js, err := json.Marshal(p.Payload)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, HeaderEUILen+len(js))
	b = appendHeader(b, p.Version, p.Token, PushData)
	b = append(b, p.GatewayEUI[:]...)
	return append(b, js...), nil
}
