package gwmp

import (
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// pushDecoder decodes the JSON of a PUSH_DATA into a PushDataPayload
// without reflection, for the datagrams that carry uplinks. It produces
// exactly what json.Unmarshal produces, or gives up (ok false) and leaves
// the datagram to encoding/json, which then decides (the differential
// FuzzPushDataDecodeMatchesJSON holds the two to that). It never reports
// an error itself: what it rejects goes to encoding/json, so that errors
// and their messages stay those of encoding/json. It gives up on:
//
//   - anything encoding/json rejects: bad syntax (it validates all it
//     reads, skipped values included), a value of the wrong type, an
//     integer out of range or with a fraction, a float out of range, a
//     datr that DataRate.UnmarshalJSON refuses;
//   - what it does not handle: a top level other than an object, a "stat"
//     object, a "meta" object, object keys with non-ASCII characters
//     (encoding/json folds them with Unicode rules: "aeſk" is "aesk"),
//     nesting deeper than maxSkipDepth.
//
// It follows encoding/json where that is surprising too: keys match field
// names case-insensitively (exact match first); a repeated key decodes
// again into what the first one filled (merging objects, reusing array
// elements); null leaves numbers and strings as they were, empties slices
// (nil) and resets time and datr; an empty array gives an empty non-nil
// slice.
type pushDecoder struct {
	b []byte
	i int
	// arena holds the text of the strings of the datagram (data, etime),
	// so that they cost one allocation per datagram instead of one each.
	// It is only appended to: strings made from it never change.
	arena []byte
}

// maxSkipDepth bounds the nesting of skipped values (vendor fields); deeper
// ones go to encoding/json, which has its own limit.
const maxSkipDepth = 32

// decodePushJSON decodes js (trimmed, not empty) into pl, whose RXPK the
// caller has zeroed and truncated and whose Stat it has set to nil. When
// ok is false pl is in an undefined state and must be reset.
func decodePushJSON(js []byte, pl *PushDataPayload) (ok bool) {
	d := pushDecoder{b: js}
	d.ws()
	if !d.payload(pl) {
		return false
	}
	d.ws()
	return d.i == len(d.b)
}

func (d *pushDecoder) ws() {
	for d.i < len(d.b) && d.b[d.i] <= ' ' {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (d *pushDecoder) peek() byte {
	if d.i < len(d.b) && d.b[d.i] > ' ' {
		return d.b[d.i] // the common case: compact JSON
	}
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// literal consumes lit (true, false, null) exactly.
func (d *pushDecoder) literal(lit string) bool {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		return false
	}
	d.i += len(lit)
	return true
}

// null consumes a null if one comes next.
func (d *pushDecoder) null() bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	return false
}

// open consumes the c ('{' or '[') that must come next; empty reports
// that the container ends at once, its end consumed too.
func (d *pushDecoder) open(c, end byte) (empty, ok bool) {
	if d.peek() != c {
		return false, false
	}
	d.i++
	if d.peek() == end {
		d.i++
		return true, true
	}
	return false, true
}

// next consumes what follows a member or element: a comma (more) or the
// container's end.
func (d *pushDecoder) next(end byte) (more, ok bool) {
	switch d.peek() {
	case ',':
		d.i++
		return true, true
	case end:
		d.i++
		return false, true
	}
	return false, false
}

// key reads an object key and its colon and returns the key as it matches
// field names (see foldKey); buf holds it if needed.
func (d *pushDecoder) key(buf *[16]byte) (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	raw, plain, ok := d.str()
	if !ok {
		return "", false
	}
	key, ok := foldKey(raw, plain, buf[:0])
	if !ok || d.peek() != ':' {
		return "", false
	}
	d.i++
	return key, true
}

// foldKey returns the key as field names are matched: encoding/json
// prefers an exact match and else compares folded names. All field names
// are lower-case ASCII, so lower-casing an ASCII key gives the name it
// matches either way (an exact match of a key that is not lower case is
// impossible). ok is false for keys with non-ASCII characters, which fold
// with Unicode rules.
func foldKey(raw []byte, plain bool, buf []byte) (string, bool) {
	if !plain {
		var ok bool
		if raw, ok = appendUnquoted(buf, raw); !ok {
			return "", false
		}
	}
	lower := true
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			return "", false
		}
		if 'A' <= c && c <= 'Z' {
			lower = false
		}
	}
	if !lower {
		if plain {
			raw = append(buf, raw...)
		}
		for j, c := range raw {
			if 'A' <= c && c <= 'Z' {
				raw[j] = c + 'a' - 'A'
			}
		}
	}
	return unsafe.String(unsafe.SliceData(raw), len(raw)), true
}

// str reads a string and returns its contents between the quotes, checked
// against the JSON grammar. plain reports that it holds neither escapes
// nor non-ASCII bytes, so that the contents are the string's value.
func (d *pushDecoder) str() (raw []byte, plain, ok bool) {
	b := d.b
	i := d.i + 1 // after the opening quote
	start := i
	// The common case: printable ASCII up to the closing quote.
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	if i < len(b) && b[i] == '"' {
		d.i = i + 1
		return b[start:i], true, true
	}
	plain = true
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return b[start:i], plain, true
		case c < ' ':
			return nil, false, false
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return nil, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return nil, false, false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				i += 6
			default:
				return nil, false, false
			}
		case c >= utf8.RuneSelf:
			plain = false
			i++
		default:
			i++
		}
	}
	return nil, false, false
}

// plainByte is true for the bytes that stand for themselves in a string.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// appendUnquoted appends the value of the contents of a JSON string, which
// str checked, to dst as encoding/json unquotes it: invalid UTF-8 and lone
// surrogates become U+FFFD.
func appendUnquoted(dst, s []byte) ([]byte, bool) {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			if r+1 >= len(s) {
				return dst, false
			}
			switch s[r+1] {
			case '"', '\\', '/':
				dst = append(dst, s[r+1])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r:])
				if rr < 0 {
					return dst, false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default:
				return dst, false
			}
			r += 2
		case c == '"', c < ' ':
			return dst, false
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			dst = utf8.AppendRune(dst, rr)
		}
	}
	return dst, true
}

// getu4 decodes \uXXXX from the beginning of s, -1 if there is none.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// number reads a number as the JSON grammar has it and returns its text;
// integer reports that it has neither fraction nor exponent.
func (d *pushDecoder) number() (text []byte, integer, ok bool) {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return nil, false, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	default:
		return nil, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false, false
		}
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false, false
		}
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	text = b[d.i:i]
	d.i = i
	return text, integer, true
}

// skip reads any value, checking it against the JSON grammar.
func (d *pushDecoder) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch d.peek() {
	case '{':
		empty, ok := d.open('{', '}')
		if !ok || empty {
			return ok
		}
		for {
			if d.peek() != '"' {
				return false
			}
			if _, _, ok := d.str(); !ok || d.peek() != ':' {
				return false
			}
			d.i++
			if !d.skip(depth + 1) {
				return false
			}
			if more, ok := d.next('}'); !ok || !more {
				return ok
			}
		}
	case '[':
		empty, ok := d.open('[', ']')
		if !ok || empty {
			return ok
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			if more, ok := d.next(']'); !ok || !more {
				return ok
			}
		}
	case '"':
		_, _, ok := d.str()
		return ok
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		_, _, ok := d.number()
		return ok
	}
}

// raw reads any value and returns its text, as encoding/json hands it to
// an Unmarshaler.
func (d *pushDecoder) raw() ([]byte, bool) {
	d.ws()
	start := d.i
	if !d.skip(0) {
		return nil, false
	}
	return d.b[start:d.i], true
}

// bstr views b as a string for parsing functions that do not keep it
// (strconv copies the text into the errors it returns).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// The setters below read one value of a field's type. null leaves the
// field as it is, as with encoding/json; anything it would refuse (wrong
// type, out of range) makes them fail.

func (d *pushDecoder) int(dst *int) bool {
	var v int64
	if !d.int64(&v) {
		return false
	}
	*dst = int(v)
	return int64(*dst) == v // out of range on 32-bit platforms
}

func (d *pushDecoder) int64(dst *int64) bool {
	if d.null() {
		return true
	}
	text, integer, ok := d.number()
	if !ok || !integer {
		return false
	}
	if len(text) <= 18 {
		neg := text[0] == '-'
		if neg {
			text = text[1:]
		}
		var v int64
		for _, c := range text {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		*dst = v
		return true
	}
	v, err := strconv.ParseInt(bstr(text), 10, 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

func (d *pushDecoder) uint32(dst *uint32) bool {
	if d.null() {
		return true
	}
	text, integer, ok := d.number()
	if !ok || !integer || text[0] == '-' {
		return false
	}
	if len(text) > 10 {
		// Leading zeros are not JSON: more than 10 digits is too large.
		return false
	}
	var v uint64
	for _, c := range text {
		v = v*10 + uint64(c-'0')
	}
	if v > 1<<32-1 {
		return false
	}
	*dst = uint32(v)
	return true
}

func (d *pushDecoder) float(dst *float64) bool {
	if d.null() {
		return true
	}
	text, integer, ok := d.number()
	if !ok {
		return false
	}
	if integer && len(text) <= 18 {
		// An int64 converts to float64 with one correct rounding, the
		// same as ParseFloat's of the decimal text.
		neg := text[0] == '-'
		if neg {
			text = text[1:]
		}
		var v int64
		for _, c := range text {
			v = v*10 + int64(c-'0')
		}
		f := float64(v)
		if neg {
			f = -f // -0 stays negative zero, as with ParseFloat
		}
		*dst = f
		return true
	}
	if f, ok := exactDecimal(text); ok {
		*dst = f
		return true
	}
	v, err := strconv.ParseFloat(bstr(text), 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

// pow10 are the powers of ten that are exact float64s.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactDecimal converts a number without exponent ("868.100000") whose
// digits, at most 15, make an integer m below 2^53: m and 10^k are then
// exact float64s and m/10^k is one correctly rounded division, the value
// ParseFloat returns. ok is false for anything else.
func exactDecimal(text []byte) (float64, bool) {
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for j, c := range text {
		switch {
		case '0' <= c && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.':
			frac = j
		default:
			return 0, false // exponent
		}
	}
	if digits > 15 || frac < 0 {
		return 0, false
	}
	f := float64(m) / pow10[len(text)-frac-1]
	if neg {
		f = -f
	}
	return f, true
}

// string reads a string value. Common values of modu and codr are
// interned; intern false puts the text in the arena instead.
func (d *pushDecoder) string(dst *string, intern bool) bool {
	if d.null() {
		return true
	}
	if d.peek() != '"' {
		return false
	}
	from := d.i
	raw, plain, ok := d.str()
	if !ok {
		return false
	}
	if plain && intern {
		if s, ok := internedString(raw); ok {
			*dst = s
			return true
		}
		*dst = string(raw) // not in the arena: Frames keep these
		return true
	}
	start := len(d.arena)
	if d.arena == nil {
		// Enough for the strings still to come, unless invalid UTF-8
		// (which grows to U+FFFD) makes append grow it.
		d.arena = make([]byte, 0, len(d.b)-from)
	}
	if plain {
		d.arena = append(d.arena, raw...)
	} else if d.arena, ok = appendUnquoted(d.arena, raw); !ok {
		return false
	}
	s := d.arena[start:]
	if intern {
		if v, ok := internedString(s); ok {
			*dst = v
			return true
		}
		*dst = string(s)
		return true
	}
	*dst = unsafe.String(unsafe.SliceData(s), len(s))
	return true
}

func internedString(b []byte) (string, bool) {
	switch string(b) {
	case "LORA":
		return "LORA", true
	case "FSK":
		return "FSK", true
	case "LR-FHSS":
		return "LR-FHSS", true
	case "4/5":
		return "4/5", true
	case "4/6":
		return "4/6", true
	case "4/7":
		return "4/7", true
	case "4/8":
		return "4/8", true
	case "1/3":
		return "1/3", true
	case "2/3":
		return "2/3", true
	case "1/2":
		return "1/2", true
	case "5/6":
		return "5/6", true
	case "OFF":
		return "OFF", true
	case "":
		return "", true
	}
	return "", false
}

func (d *pushDecoder) payload(pl *PushDataPayload) bool {
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return ok
	}
	var buf [16]byte
	for {
		key, ok := d.key(&buf)
		if !ok {
			return false
		}
		switch key {
		case "rxpk":
			ok = d.rxpks(&pl.RXPK)
		case "stat":
			// Rare (every 30 s or so): encoding/json decodes it.
			if ok = d.null(); ok {
				pl.Stat = nil
			}
		default:
			ok = d.skip(0)
		}
		if !ok {
			return false
		}
		if more, ok := d.next('}'); !ok || !more {
			return ok
		}
	}
}

// rxpks decodes the rxpk array.
func (d *pushDecoder) rxpks(s *[]RXPK) bool {
	more, ok := openArray(d, s)
	for i := 0; more; i++ {
		if !d.rxpk(arrayElem(s, i, 0)) {
			return false
		}
		more, ok = nextElem(d, s, i)
	}
	return ok
}

// An array is decoded into a slice as encoding/json does: null empties
// it; elements reuse those already there (decoded into again, not
// zeroed), growing as needed; [] replaces it with an empty non-nil slice.
// (Helpers rather than one function taking the element decoder: through a
// func value the decoder would escape to the heap.)

// openArray reads the start of an array; more: an element follows.
func openArray[T any](d *pushDecoder, s *[]T) (more, ok bool) {
	if d.null() {
		*s = nil
		return false, true
	}
	empty, ok := d.open('[', ']')
	if ok && empty {
		*s = []T{}
	}
	return ok && !empty, ok
}

// arrayElem is element i of s, grown to hold it; a new slice gets room for
// firstCap elements at once.
func arrayElem[T any](s *[]T, i, firstCap int) *T {
	if i >= cap(*s) {
		if *s == nil && firstCap > 0 {
			*s = make([]T, 0, firstCap)
		} else {
			var zero T
			*s = append(*s, zero)
		}
	}
	if i >= len(*s) {
		*s = (*s)[:i+1]
	}
	return &(*s)[i]
}

// nextElem reads what follows element i; at the end s keeps i+1 elements.
func nextElem[T any](d *pushDecoder, s *[]T, i int) (more, ok bool) {
	more, ok = d.next(']')
	if ok && !more {
		*s = (*s)[:i+1]
	}
	return more, ok
}

func (d *pushDecoder) rxpk(rx *RXPK) bool {
	if d.null() {
		return true // encoding/json leaves a struct as it is
	}
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return ok
	}
	var buf [16]byte
	for {
		key, ok := d.key(&buf)
		if !ok {
			return false
		}
		switch key {
		case "tmst":
			ok = d.uint32(&rx.Tmst)
		case "chan":
			ok = d.int(&rx.Chan)
		case "rfch":
			ok = d.int(&rx.RFCh)
		case "freq":
			ok = d.float(&rx.Freq)
		case "stat":
			ok = d.int(&rx.Stat)
		case "modu":
			ok = d.string(&rx.Modu, true)
		case "datr":
			var raw []byte
			raw, ok = d.raw()
			ok = ok && rx.DatR.UnmarshalJSON(raw) == nil
		case "codr":
			ok = d.string(&rx.CodR, true)
		case "rssi":
			ok = d.float(&rx.RSSI)
		case "lsnr":
			ok = d.float(&rx.LSNR)
		case "size":
			ok = d.int(&rx.Size)
		case "data":
			ok = d.string(&rx.Data, false)
		case "time":
			var raw []byte
			if raw, ok = d.raw(); ok {
				rx.Time.unmarshal(raw)
			}
		case "tmms":
			ok = d.int64(&rx.Tmms)
		case "rsig":
			ok = d.rsigs(&rx.RSig)
		case "jver":
			ok = d.int(&rx.JVer)
		case "tm32":
			ok = d.uint32(&rx.Tm32)
		case "ftime":
			ok = d.int64(&rx.FTime)
		case "mid":
			ok = d.int(&rx.MID)
		case "brd":
			ok = d.int(&rx.Brd)
		case "aesk":
			ok = d.int(&rx.AESK)
		case "hpw":
			ok = d.int(&rx.HPW)
		case "rssis":
			ok = d.float(&rx.RSSIS)
		case "foff":
			ok = d.float(&rx.FOff)
		case "meta":
			// Rare: encoding/json decodes a map.
			if ok = d.null(); ok {
				rx.Meta = nil
			}
		default:
			ok = d.skip(0)
		}
		if !ok {
			return false
		}
		if more, ok := d.next('}'); !ok || !more {
			return ok
		}
	}
}

// rsigs decodes the rsig array; multi-antenna gateways have two to four
// entries: one allocation.
func (d *pushDecoder) rsigs(s *[]RSig) bool {
	more, ok := openArray(d, s)
	for i := 0; more; i++ {
		if !d.rsig(arrayElem(s, i, 4)) {
			return false
		}
		more, ok = nextElem(d, s, i)
	}
	return ok
}

func (d *pushDecoder) rsig(r *RSig) bool {
	if d.null() {
		return true
	}
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return ok
	}
	var buf [16]byte
	for {
		key, ok := d.key(&buf)
		if !ok {
			return false
		}
		switch key {
		case "ant":
			ok = d.int(&r.Ant)
		case "chan":
			ok = d.int(&r.Chan)
		case "rssic":
			ok = d.float(&r.RSSIC)
		case "rssis":
			ok = d.float(&r.RSSIS)
		case "rssisd":
			ok = d.float(&r.RSSISD)
		case "lsnr":
			ok = d.float(&r.LSNR)
		case "etime":
			ok = d.string(&r.ETime, false)
		case "ftime":
			ok = d.int64(&r.FTime)
		case "foff":
			ok = d.float(&r.FOff)
		case "fdri":
			ok = d.float(&r.FDri)
		default:
			ok = d.skip(0)
		}
		if !ok {
			return false
		}
		if more, ok := d.next('}'); !ok || !more {
			return ok
		}
	}
}
