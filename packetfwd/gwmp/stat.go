package gwmp

// Stat is a forwarder's periodic status report. Position fields are pointers
// because forwarders without GPS leave them out, and 0,0 is not "unknown".
type Stat struct {
	Time ExpandedTime `json:"time,omitzero"` // gateway's clock; Helium omits it
	Lati *float64     `json:"lati,omitempty"`
	Long *float64     `json:"long,omitempty"`
	Alti *float64     `json:"alti,omitempty"` // metres (integer on the wire)
	RXNb uint32       `json:"rxnb"`           // frames received
	RXOK uint32       `json:"rxok"`           // ... with a valid CRC
	RXFW uint32       `json:"rxfw"`           // ... forwarded
	ACKR float64      `json:"ackr"`           // % of upstream datagrams acked
	DWNb uint32       `json:"dwnb"`           // downlinks received
	TXNb uint32       `json:"txnb"`           // downlinks emitted
	Temp *float64     `json:"temp,omitempty"` // °C, sx1302
	// Free-text extras of TTN and Helium forwarders.
	Boot string            `json:"boot,omitempty"`
	Pfrm string            `json:"pfrm,omitempty"`
	Mail string            `json:"mail,omitempty"`
	Desc string            `json:"desc,omitempty"`
	Meta map[string]string `json:"meta,omitempty"`
}

// Position returns the reported position; ok is false when latitude or
// longitude is missing, or both are zero (what GPS-less forwarders print).
func (s *Stat) Position() (lat, lon, alt float64, ok bool) {
	if s == nil || s.Lati == nil || s.Long == nil || (*s.Lati == 0 && *s.Long == 0) {
		return 0, 0, 0, false
	}
	if s.Alti != nil {
		alt = *s.Alti
	}
	return *s.Lati, *s.Long, alt, true
}
