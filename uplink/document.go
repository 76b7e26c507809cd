package uplink

import (
	"math"
	"strconv"
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
	dst = u.ReceivedAt.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","DevEUI":"`...)
	dst = appendHex(dst, u.DevEUI[:], hexUpper)
	dst = append(dst, `","DevAddr":"`...)
	dst = appendHex(dst, u.DevAddr[:], hexUpper)
	dst = append(dst, `","FPort":`...)
	dst = strconv.AppendUint(dst, uint64(u.FPort), 10)
	dst = append(dst, `,"FCntUp":`...)
	dst = strconv.AppendUint(dst, uint64(u.FCnt), 10)
	dst = append(dst, `,"MType":`...)
	dst = strconv.AppendUint(dst, uint64(u.MType), 10)
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

	if len(u.Receptions) > 0 {
		best := &u.Receptions[0]
		dst = append(dst, `,"LrrRSSI":`...)
		dst = appendFloat(dst, best.RSSI)
		dst = append(dst, `,"LrrSNR":`...)
		dst = appendFloat(dst, best.SNR)
		dst = append(dst, `,"LrrESP":`...)
		dst = appendFloat(dst, ESP(best.RSSI, best.SNR))
	}
	if u.SF > 0 {
		dst = append(dst, `,"SpFact":`...)
		dst = strconv.AppendInt(dst, int64(u.SF), 10)
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
		dst = strconv.AppendInt(dst, int64(r.RFChain), 10)
		dst = append(dst, `,"LrrRSSI":`...)
		dst = appendFloat(dst, r.RSSI)
		dst = append(dst, `,"LrrSNR":`...)
		dst = appendFloat(dst, r.SNR)
		dst = append(dst, `,"LrrESP":`...)
		dst = appendFloat(dst, ESP(r.RSSI, r.SNR))
		dst = append(dst, '}')
	}
	dst = append(dst, `]},"DevLrrCnt":`...)
	dst = strconv.AppendInt(dst, int64(len(u.Receptions)), 10)
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

// ESP is the estimated signal power, RSSI + SNR − 10·log10(1 + 10^(SNR/10)),
// computed so that it stays finite for any finite SNR.
func ESP(rssi, snr float64) float64 {
	if snr > 0 {
		// SNR − 10·log10(1+10^(SNR/10)) = −10·log10(1+10^(−SNR/10))
		return rssi - 10*math.Log1p(math.Pow(10, -snr/10))/math.Ln10
	}
	return rssi + snr - 10*math.Log1p(math.Pow(10, snr/10))/math.Ln10
}

// appendFloat writes v rounded to six decimals (ThingPark's precision), in
// the shortest form; a value JSON cannot carry (NaN, ±Inf) is written as 0.
func appendFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, '0')
	}
	if math.Abs(v) < 1e9 {
		v = math.Round(v*1e6) / 1e6
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

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
