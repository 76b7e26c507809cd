package gwmp

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// The fast path's readers of single tokens and values, on the walker over
// the JSON jsontext validated (push_fast_walk.go). Each reports false for
// anything outside the unambiguous subset (push_fast.go).

// open reads the delimiter k ('{' or '['); anything else, such as null,
// gives up.
func (f *fastDecoder) open(k byte) bool {
	return f.w.delim(k)
}

// close reads the delimiter k ('}' or ']'); anything else, such as a null
// element, gives up.
func (f *fastDecoder) close(k byte) bool {
	return f.w.delim(k)
}

// name reads the object name that members peeked, raw (escapes not
// undone). A known name matches only without escapes; skip gives up on
// others with one: nobody sends them, and they could spell a known key.
func (f *fastDecoder) name() []byte {
	v := f.w.str()
	return v[1 : len(v)-1]
}

// The objects whose names skip checks.
const (
	payloadLevel = iota
	rxpkLevel
	rsigLevel
)

// skip skips the value of an unknown name, unless encoding/json would take
// the name for one of the level's names: it matches names
// case-insensitively, with Unicode folding ("\u212a", the Kelvin sign, is
// "k"), so a name that folds to a known one or holds any non-ASCII byte
// gives up.
func (f *fastDecoder) skip(name []byte, level int) bool {
	var low [8]byte // longer than any known name
	for i, c := range name {
		if c >= utf8.RuneSelf || c == '\\' {
			return false
		}
		if i < len(low) {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			low[i] = c
		}
	}
	if len(name) <= len(low) {
		if keyAt(level, low[:len(name)]) >= 0 {
			return false
		}
	}
	_, kind := f.w.value()
	return kind != 0
}

// number reads a JSON number literal.
func (f *fastDecoder) number() ([]byte, bool) {
	if f.w.peek() != '0' {
		return nil, false
	}
	return f.w.num(), true
}

// The numbers parse as encoding/json parses them: integers with ParseInt or
// ParseUint in the field's size (so "1.0", "1e3" and "-0" into a uint give
// up), floats with ParseFloat(64), whose range error gives up too.

//
// An integer that fits an int32 (or, unsigned, a uint32) is what every
// forwarder sends but GPS times; smallInt reads it without strconv, whose
// result is then certain: the string conversion (a copy) and strconv's
// general path cost about 1,500 instructions per rxpk on 32-bit ARM.

// smallInt returns v, a JSON number, when it is an integer of at most ten
// digits; neg tells it had a minus sign. ok is false for anything else.
func smallInt(v []byte) (n uint64, neg, ok bool) {
	if len(v) > 0 && v[0] == '-' {
		v, neg = v[1:], true
	}
	if len(v) == 0 || len(v) > 10 {
		return 0, false, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, neg, true
}

// signedSmall is v as a signed integer when smallInt reads it and it fits
// an int32, so any int.
func signedSmall(v []byte) (int64, bool) {
	n, neg, ok := smallInt(v)
	if !ok || n > math.MaxInt32 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func (f *fastDecoder) readInt(dst *int) bool {
	v, ok := f.number()
	if !ok {
		return false
	}
	if n, ok := signedSmall(v); ok {
		*dst = int(n)
		return true
	}
	n, err := strconv.ParseInt(string(v), 10, strconv.IntSize)
	*dst = int(n)
	return err == nil
}

func (f *fastDecoder) readInt64(dst *int64) bool {
	v, ok := f.number()
	if !ok {
		return false
	}
	if n, ok := signedSmall(v); ok {
		*dst = n
		return true
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	*dst = n
	return err == nil
}

func (f *fastDecoder) readUint32(dst *uint32) bool {
	v, ok := f.number()
	if !ok {
		return false
	}
	if n, neg, ok := smallInt(v); ok && !neg && n <= math.MaxUint32 {
		*dst = uint32(n)
		return true
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	*dst = uint32(n)
	return err == nil
}

// smallFloat returns v, a JSON number, when it has at most 15 digits and
// no exponent, as strconv.ParseFloat does in that case (its exact path):
// the digits as an integer, exact in a float64, divided by a power of ten,
// exact too, so the one rounding is the division's. ok is false for
// anything else. Radio values (freq, rssi, lsnr) all take it: strconv cost
// them about 1,100 instructions per rxpk on 32-bit ARM.
func smallFloat(v []byte) (x float64, ok bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	var mant uint64
	digits, point := 0, -1
	for i, c := range v {
		switch {
		case '0' <= c && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
		case c == '.' && point < 0:
			point = i
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	x = float64(mant)
	if point >= 0 {
		k := len(v) - point - 1 // digits after the point, fewer than 16
		if k == 0 {
			return 0, false
		}
		p := 1.0
		for range k {
			p *= 10 // exact up to 1e22
		}
		x /= p
	}
	if neg {
		x = -x
	}
	return x, true
}

func (f *fastDecoder) readFloat(dst *float64) bool {
	v, ok := f.number()
	if !ok {
		return false
	}
	if x, ok := smallFloat(v); ok {
		*dst = x
		return true
	}
	n, err := strconv.ParseFloat(string(v), 64)
	*dst = n
	return err == nil
}

// readString reads a JSON string; the common values of modu and codr are
// interned, as the library's string cache does, so that they do not
// allocate.
func (f *fastDecoder) readString(dst *string) bool {
	if f.w.peek() != '"' {
		return false
	}
	switch v := f.w.str(); string(v) {
	case `"LORA"`:
		*dst = "LORA"
	case `"FSK"`:
		*dst = "FSK"
	case `"LR-FHSS"`:
		*dst = "LR-FHSS"
	case `"4/5"`:
		*dst = "4/5"
	case `"4/6"`:
		*dst = "4/6"
	case `"4/7"`:
		*dst = "4/7"
	case `"4/8"`:
		*dst = "4/8"
	default:
		var ok bool
		*dst, ok = unquote(v)
		return ok
	}
	return true
}

// unquote returns the contents of the JSON string v. Escapes are rare
// enough to leave to the library, which unescapes as encoding/json does.
func unquote(v []byte) (string, bool) {
	if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 {
		return string(s), true
	}
	var s string
	err := jsonv2.Unmarshal(v, &s, jsonv1.DefaultOptionsV1())
	return s, err == nil
}

// readTime and readDataRate reuse the types' own UnmarshalJSON, which the
// library calls with the same bytes.

func (f *fastDecoder) readTime(dst *CompactTime) bool {
	return f.w.peek() == '"' && dst.UnmarshalJSON(f.w.str()) == nil
}

func (f *fastDecoder) readDataRate(dst *DataRate) bool {
	v, kind := f.w.value()
	if kind != '"' && kind != '0' {
		return false
	}
	if len(f.datr) > 0 && bytes.Equal(v, f.datr) {
		*dst = f.dr // UnmarshalJSON gives the same for the same bytes
		return true
	}
	if dst.UnmarshalJSON(v) != nil {
		return false
	}
	f.datr, f.dr = append(f.datr[:0], v...), *dst
	return true
}
