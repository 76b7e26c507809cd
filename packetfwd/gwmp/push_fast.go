package gwmp

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"
)

// The fast path decodes the PUSH_DATA that real forwarders send: exact key
// names, each at most once, no null, values of the field's JSON kind. It
// has jsontext validate the JSON, walks the validated bytes and fills the
// fields itself, without the library's reflection-driven arshalers and
// their code footprint (docs/decisions/gwmp-decoder.md). Whatever is not
// plainly in that subset makes it give up, and UnmarshalBinary decodes the
// datagram again with the library, so that encoding/json's corners
// (case-insensitive and duplicate keys, null, stat) stay the library's
// business.

// fastDecoder is the fast path's scratch space. A packet keeps its own, so
// that the server's reused packet allocates it once.
type fastDecoder struct {
	owner *PushDataPacket // a copy of the packet gets its own
	// in holds a copy of the JSON: the Decoder reads a bytes.Buffer in
	// place, and the caller's datagram stays untouched for the fallback.
	in  bytes.Buffer
	dec jsontext.Decoder
	w   walk // the value dec validated
	// The last datr as sent and as decoded: a forwarder repeats a few
	// rates, and UnmarshalJSON's interning lookup hashes the string,
	// about 350 instructions per rxpk on 32-bit ARM.
	datr []byte
	dr   DataRate
}

// decodeFast decodes js into p's reset payload and reports whether it
// could. When it could not, the payload holds a partial decoding and must
// be reset before the library decodes js.
func (p *PushDataPacket) decodeFast(js []byte) (ok bool) {
	f := p.fast
	if f == nil || f.owner != p {
		f = &fastDecoder{owner: p}
		p.fast = f
	}
	f.in.Reset()
	f.in.Write(js)
	// The keys are checked here, once each, against the fields: the
	// Decoder need not remember every name.
	f.dec.Reset(&f.in, jsontext.AllowDuplicateNames(true))
	// One call validates the whole value (syntax, strings, UTF-8, numbers,
	// depth); the fast path then reads its tokens with a walker, as a call
	// to jsontext per token cost more on 32-bit ARM than the decoding
	// itself. Invalid JSON gives up, and the library reports the error.
	v, err := f.dec.ReadValue()
	// trimJSON left no white space after the object: anything after it is
	// trailing data, which encoding/json refuses.
	if err != nil || f.dec.InputOffset() != int64(len(js)) {
		return false
	}
	f.w = walk{b: v}
	return f.payload(&p.Payload)
}

func (f *fastDecoder) payload(pl *PushDataPayload) bool {
	return f.members(payloadLevel, func(k int) bool {
		// stat (every 30 s) is left to the library.
		return k == 0 && f.rxpks(pl)
	})
}

// members reads the members of an object at level: a known name (keyAt
// numbers it) goes to field, at most once; others are skipped. A repeated
// name gives up: encoding/json merges them.
func (f *fastDecoder) members(level int, field func(k int) bool) bool {
	if !f.open('{') {
		return false
	}
	var seen uint32 // the most names, RXPK's, are 25: 64-bit shifts cost more on 32-bit ARM
	for f.w.peek() == '"' {
		name := f.name()
		k := keyAt(level, name)
		if k < 0 {
			if !f.skip(name, level) {
				return false
			}
			continue
		}
		if seen&(1<<k) != 0 || !field(k) {
			return false
		}
		seen |= 1 << k
	}
	return f.close('}')
}

// keyAt numbers name among the JSON names of the object at level; -1 for
// others. The numbering functions switch on string(name), which the
// compiler compares without converting: a conversion per member copied
// the name, 13 calls per rxpk.
func keyAt(level int, name []byte) int {
	switch level {
	case payloadLevel:
		return payloadKey(name)
	case rxpkLevel:
		return rxpkKey(name)
	default:
		return rsigKey(name)
	}
}

// payloadKey numbers PushDataPayload's JSON names; -1 for others.
func payloadKey(name []byte) int {
	switch string(name) {
	case "rxpk":
		return 0
	case "stat":
		return 1
	}
	return -1
}

// rxpks decodes the array into pl.RXPK, which resetPayload emptied and
// zeroed, as encoding/json would: a present array is never nil.
func (f *fastDecoder) rxpks(pl *PushDataPayload) bool {
	if !f.open('[') {
		return false
	}
	if pl.RXPK == nil {
		pl.RXPK = []RXPK{}
	}
	for f.w.peek() == '{' {
		pl.RXPK = append(pl.RXPK, RXPK{})
		if !f.rxpk(&pl.RXPK[len(pl.RXPK)-1]) {
			return false
		}
	}
	return f.close(']')
}

func (f *fastDecoder) rxpk(r *RXPK) bool {
	return f.members(rxpkLevel, func(k int) (ok bool) {
		switch k {
		case kJVer:
			ok = f.readInt(&r.JVer)
		case kTime:
			ok = f.readTime(&r.Time)
		case kTmms:
			ok = f.readInt64(&r.Tmms)
		case kTmst:
			ok = f.readUint32(&r.Tmst)
		case kTm32:
			ok = f.readUint32(&r.Tm32)
		case kFTime:
			ok = f.readInt64(&r.FTime)
		case kFreq:
			ok = f.readFloat(&r.Freq)
		case kChan:
			ok = f.readInt(&r.Chan)
		case kRFCh:
			ok = f.readInt(&r.RFCh)
		case kMID:
			ok = f.readInt(&r.MID)
		case kBrd:
			ok = f.readInt(&r.Brd)
		case kAESK:
			ok = f.readInt(&r.AESK)
		case kStat:
			ok = f.readInt(&r.Stat)
		case kModu:
			ok = f.readString(&r.Modu)
		case kDatR:
			ok = f.readDataRate(&r.DatR)
		case kCodR:
			ok = f.readString(&r.CodR)
		case kHPW:
			ok = f.readInt(&r.HPW)
		case kRSSI:
			ok = f.readFloat(&r.RSSI)
		case kRSSIS:
			ok = f.readFloat(&r.RSSIS)
		case kLSNR:
			ok = f.readFloat(&r.LSNR)
		case kFOff:
			ok = f.readFloat(&r.FOff)
		case kSize:
			ok = f.readInt(&r.Size)
		case kData:
			ok = f.readString(&r.Data)
		case kRSig:
			ok = f.rsigs(&r.RSig)
		case kMeta:
			ok = f.meta(&r.Meta)
		}
		return ok
	})
}

// RXPK's JSON names, numbered for the duplicate check.
const (
	kJVer = iota
	kTime
	kTmms
	kTmst
	kTm32
	kFTime
	kFreq
	kChan
	kRFCh
	kMID
	kBrd
	kAESK
	kStat
	kModu
	kDatR
	kCodR
	kHPW
	kRSSI
	kRSSIS
	kLSNR
	kFOff
	kSize
	kData
	kRSig
	kMeta
)

// members' seen, a uint32, holds every RXPK name: this does not compile
// once there are more than 32.
const _ uint32 = 1 << kMeta

// rxpkKey numbers RXPK's JSON names (its struct tags); -1 for others.
func rxpkKey(name []byte) int {
	switch string(name) {
	case "jver":
		return kJVer
	case "time":
		return kTime
	case "tmms":
		return kTmms
	case "tmst":
		return kTmst
	case "tm32":
		return kTm32
	case "ftime":
		return kFTime
	case "freq":
		return kFreq
	case "chan":
		return kChan
	case "rfch":
		return kRFCh
	case "mid":
		return kMID
	case "brd":
		return kBrd
	case "aesk":
		return kAESK
	case "stat":
		return kStat
	case "modu":
		return kModu
	case "datr":
		return kDatR
	case "codr":
		return kCodR
	case "hpw":
		return kHPW
	case "rssi":
		return kRSSI
	case "rssis":
		return kRSSIS
	case "lsnr":
		return kLSNR
	case "foff":
		return kFOff
	case "size":
		return kSize
	case "data":
		return kData
	case "rsig":
		return kRSig
	case "meta":
		return kMeta
	}
	return -1
}

// rsigs decodes Kerlink's array of antennas into a new slice.
func (f *fastDecoder) rsigs(dst *[]RSig) bool {
	if !f.open('[') {
		return false
	}
	rs := make([]RSig, 0, 2) // one per antenna: mostly two
	for f.w.peek() == '{' {
		rs = append(rs, RSig{})
		if !f.rsig(&rs[len(rs)-1]) {
			return false
		}
	}
	*dst = rs
	return f.close(']')
}

func (f *fastDecoder) rsig(r *RSig) bool {
	return f.members(rsigLevel, func(k int) (ok bool) {
		switch k {
		case 0:
			ok = f.readInt(&r.Ant)
		case 1:
			ok = f.readInt(&r.Chan)
		case 2:
			ok = f.readFloat(&r.RSSIC)
		case 3:
			ok = f.readFloat(&r.RSSIS)
		case 4:
			ok = f.readFloat(&r.RSSISD)
		case 5:
			ok = f.readFloat(&r.LSNR)
		case 6:
			ok = f.readString(&r.ETime)
		case 7:
			ok = f.readInt64(&r.FTime)
		case 8:
			ok = f.readFloat(&r.FOff)
		case 9:
			ok = f.readFloat(&r.FDri)
		}
		return ok
	})
}

// rsigKey numbers RSig's JSON names in field order; -1 for others.
func rsigKey(name []byte) int {
	switch string(name) {
	case "ant":
		return 0
	case "chan":
		return 1
	case "rssic":
		return 2
	case "rssis":
		return 3
	case "rssisd":
		return 4
	case "lsnr":
		return 5
	case "etime":
		return 6
	case "ftime":
		return 7
	case "foff":
		return 8
	case "fdri":
		return 9
	}
	return -1
}

// meta decodes an object of strings into a new map; a repeated key gives up
// (encoding/json would keep the last).
func (f *fastDecoder) meta(dst *map[string]string) bool {
	if !f.open('{') {
		return false
	}
	m := make(map[string]string)
	for f.w.peek() == '"' {
		v := f.w.str() // a name
		k, ok := unquote(v)
		if _, dup := m[k]; !ok || dup {
			return false
		}
		var s string
		if !f.readString(&s) {
			return false
		}
		m[k] = s
	}
	*dst = m
	return f.close('}')
}
