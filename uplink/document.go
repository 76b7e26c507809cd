package uplink

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/brocaar/lorawan"
)

// DocOptions tune the DevEUI_uplink document.
type DocOptions struct {
	// CustomerID is ThingPark's subscriber id, sent as a string. Empty means
	// "0": the field is always present in ThingPark's documents and some
	// consumers parse it as a number, so the placeholder is numeric and
	// plainly not a real subscriber.
	CustomerID string
}

// maxLrrs is how many receptions ThingPark lists ("up to 10 best LRRs").
const maxLrrs = 10

// timeLayout is ThingPark's: milliseconds and a numeric offset, never "Z".
const timeLayout = "2006-01-02T15:04:05.000-07:00"

// AppendDocument appends u as {"DevEUI_uplink":{…}} in ThingPark's typed
// JSON (numbers as numbers, CustomerID a string) and returns the extended
// buffer. late marks an uplink delivered from the backlog.
//
// Lrrid, ThingPark's 8-hex base-station id, has no defined mapping from a
// 64-bit gateway EUI; it is the EUI's last four bytes in upper-case hex,
// which keeps the gateway recognisable (EUIs usually differ at the end).
// Chain is the reception's RF chain.
func AppendDocument(dst []byte, u *Uplink, late bool, opts DocOptions) []byte {
	dst = append(dst, `{"DevEUI_uplink":{"Time":"`...)
	dst = appendTime(dst, u.ReceivedAt)
	dst = append(dst, `","DevEUI":"`...)
	dst = appendHex(dst, u.DevEUI[:], hexUpper)
	dst = append(dst, `","DevAddr":"`...)
	dst = appendHex(dst, u.DevAddr[:], hexUpper)
	dst = append(dst, `","FPort":`...)
	dst = appendUint(dst, uint32(u.FPort))
	dst = append(dst, `,"FCntUp":`...)
	dst = appendUint(dst, u.FCnt)
	dst = append(dst, `,"MType":`...)
	dst = appendUint(dst, uint32(u.MType))
	if u.ADR {
		dst = append(dst, `,"ADRbit":1`...)
	}
	if u.ACK {
		dst = append(dst, `,"ACKbit":1`...)
	}
	dst = append(dst, `,"AckRequested":`...)
	dst = appendBit(dst, u.MType == lorawan.ConfirmedDataUp)
	dst = append(dst, `,"payload_hex":"`...)
	dst = appendHex(dst, u.Payload, hexLower)
	dst = append(dst, `","mic_hex":"`...)
	dst = appendHex(dst, u.MIC[:], hexLower)
	dst = append(dst, '"')

	var bestESP float64 // reused in Lrrs: ESP costs a pow and a log, soft-float on MIPS
	if len(u.Receptions) > 0 {
		best := &u.Receptions[0]
		bestESP = ESP(best.RSSI, best.SNR)
		dst = append(dst, `,"LrrRSSI":`...)
		dst = appendFloat(dst, best.RSSI)
		dst = append(dst, `,"LrrSNR":`...)
		dst = appendFloat(dst, best.SNR)
		dst = append(dst, `,"LrrESP":`...)
		dst = appendFloat(dst, bestESP)
	}
	if u.SF > 0 {
		dst = append(dst, `,"SpFact":`...)
		dst = appendInt(dst, u.SF)
	}
	if u.Frequency > 0 {
		dst = append(dst, `,"Frequency":`...)
		dst = appendFloat(dst, u.Frequency)
	}
	if len(u.Receptions) > 0 {
		best := &u.Receptions[0]
		dst = append(dst, `,"Lrrid":"`...)
		dst = appendHex(dst, best.GatewayEUI[4:], hexUpper)
		dst = append(dst, '"')
		if best.HasPosition {
			dst = append(dst, `,"LrrLAT":`...)
			dst = appendFloat(dst, best.Latitude)
			dst = append(dst, `,"LrrLON":`...)
			dst = appendFloat(dst, best.Longitude)
		}
	}
	dst = append(dst, `,"Lrrs":{"Lrr":[`...)
	for i := range min(len(u.Receptions), maxLrrs) {
		r := &u.Receptions[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"Lrrid":"`...)
		dst = appendHex(dst, r.GatewayEUI[4:], hexUpper)
		dst = append(dst, `","Chain":`...)
		dst = appendInt(dst, r.RFChain)
		dst = append(dst, `,"LrrRSSI":`...)
		dst = appendFloat(dst, r.RSSI)
		dst = append(dst, `,"LrrSNR":`...)
		dst = appendFloat(dst, r.SNR)
		dst = append(dst, `,"LrrESP":`...)
		esp := bestESP
		if i > 0 {
			esp = ESP(r.RSSI, r.SNR)
		}
		dst = appendFloat(dst, esp)
		dst = append(dst, '}')
	}
	dst = append(dst, `]},"DevLrrCnt":`...)
	dst = appendInt(dst, len(u.Receptions))
	dst = append(dst, `,"Late":`...)
	dst = appendBit(dst, late)
	dst = append(dst, `,"CustomerID":`...)
	id := opts.CustomerID
	if id == "" {
		id = "0"
	}
	dst = appendString(dst, id)
	dst = append(dst, `,"PayloadEncryption":0}}`...)
	return dst
}

// ESP is the estimated signal power, RSSI + SNR − 10·log10(1 + 10^(SNR/10)).
// It stays finite for any finite input.
func ESP(rssi, snr float64) float64 {
	// Packet forwarders report SNR in tenths of a dB; those values come from
	// a table, since exp and log cost several µs each on soft-float MIPS.
	// The table holds espCorrection of the very same float64, so both ways
	// give identical results.
	if k := math.Round(snr * 10); k >= espTableMin && k <= espTableMax && k/10 == snr {
		return rssi + espTable()[int(k-espTableMin)]
	}
	return rssi + espCorrection(snr)
}

// espCorrection is ESP − RSSI, computed so that it stays finite.
func espCorrection(snr float64) float64 {
	// 10^x as exp(x·ln 10); for SNR > 0, SNR − 10·log10(1+10^(SNR/10)) is
	// rewritten as −10·log10(1+10^(−SNR/10)) so that nothing overflows.
	if snr > 0 {
		return -10 / math.Ln10 * math.Log1p(math.Exp(-snr/10*math.Ln10))
	}
	return snr - 10/math.Ln10*math.Log1p(math.Exp(snr/10*math.Ln10))
}

// The table covers −40.0 to +30.0 dB, beyond what a LoRa radio reports. It
// is a memoised pure function, not state.
const (
	espTableMin = -400
	espTableMax = 300
)

var espTable = sync.OnceValue(func() *[espTableMax - espTableMin + 1]float64 {
	var t [espTableMax - espTableMin + 1]float64
	for i := range t {
		t[i] = espCorrection(float64(i+espTableMin) / 10)
	}
	return &t
})

// appendFloat writes v rounded to six decimals (ThingPark's precision),
// without trailing zeros; a value JSON cannot carry (NaN, ±Inf) is written
// as 0. Radio values go through 32-bit fixed point: on soft-float MIPS a
// float division or strconv's shortest formatting costs tens of µs.
func appendFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, '0')
	}
	a := math.Abs(v)
	if a >= 4294 { // beyond 32-bit micro-units; never a radio value
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	n := uint32(math.Round(a * 1e6))
	if n == 0 {
		return append(dst, '0')
	}
	if math.Signbit(v) {
		dst = append(dst, '-')
	}
	dst = appendUint(dst, n/1e6)
	frac := n % 1e6
	if frac == 0 {
		return dst
	}
	var buf [7]byte
	buf[0] = '.'
	for i := 6; i > 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 7
	for buf[end-1] == '0' {
		end--
	}
	return append(dst, buf[:end]...)
}

// appendTime writes t in UTC as timeLayout does, without parsing the layout.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, timeLayout)
	}
	h, mi, s := t.Clock()
	dst = append2(append2(dst, y/100), y%100)
	dst = append2(append(dst, '-'), int(mo))
	dst = append2(append(dst, '-'), d)
	dst = append2(append(dst, 'T'), h)
	dst = append2(append(dst, ':'), mi)
	dst = append2(append(dst, ':'), s)
	ms := t.Nanosecond() / 1e6
	dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(dst, "+00:00"...)
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func appendBit(dst []byte, b bool) []byte {
	if b {
		return append(dst, '1')
	}
	return append(dst, '0')
}

const (
	hexUpper = "0123456789ABCDEF"
	hexLower = "0123456789abcdef"
)

func appendHex(dst, b []byte, digits string) []byte {
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0x0f])
	}
	return dst
}

// appendUint writes v in decimal, values below 1000 (all but counters)
// here: strconv's small-number path copies from a table with a memmove
// call, and its 13 calls per document cost about 1,000 instructions on
// 32-bit ARM.
func appendUint(dst []byte, v uint32) []byte {
	switch {
	case v < 10:
		return append(dst, byte('0'+v))
	case v < 100:
		return append(dst, byte('0'+v/10), byte('0'+v%10))
	case v < 1000:
		return append(dst, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
	}
	return strconv.AppendUint(dst, uint64(v), 10)
}

func appendInt(dst []byte, v int) []byte {
	if v >= 0 && v < 1000 {
		return appendUint(dst, uint32(v))
	}
	return strconv.AppendInt(dst, int64(v), 10)
}

// appendString writes s as a JSON string. Only CustomerID, which comes from
// configuration, needs it; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0x0f])
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
