package gwmp

// walk reads the tokens of one JSON value that jsontext has validated
// whole (decodeFast). jsontext's per-call cost (its state copies, its
// checks) was most of the fast path's guest instructions on 32-bit ARM:
// about 15,000 per uplink for some 40 calls per rxpk. Since the bytes are
// known to be valid, the walker need not check anything: separators and
// white space only ever come between tokens, a string ends at its first
// unescaped quote, and brackets balance outside strings.
type walk struct {
	b []byte
	i int
}

// peek returns the next token's first byte, past white space and the ','
// and ':' separators, with '0' for any number (as jsontext.Kind); 0 at the
// end. It leaves the walker on that byte.
func (w *walk) peek() byte {
	// Locals, as a store to w.i would reload w.b; unsigned, so that the
	// loop's test is the only bounds check (here and in the scans below).
	b, i := w.b, uint(w.i)
	for ; i < uint(len(b)); i++ {
		if c := b[i]; c > ' ' && c != ',' && c != ':' {
			w.i = int(i)
			if c == '"' || c > '9' {
				return c
			}
			return '0' // '-' or a digit: the other bytes below '9' are separators
		}
	}
	w.i = len(b)
	return 0
}

// delim reads the delimiter c ('{', '}', '[' or ']') if it comes next.
func (w *walk) delim(c byte) bool {
	if w.peek() != c {
		return false
	}
	w.i++
	return true
}

// str reads the string that peek found next, with its quotes. The caller
// peeks, as str and num would peek again: a call costs on 32-bit ARM.
func (w *walk) str() []byte {
	start := w.i
	w.i = stringEnd(w.b, start)
	return w.b[start:w.i]
}

// num reads the number that peek found next.
func (w *walk) num() []byte {
	start := w.i
	w.i = numberEnd(w.b, start)
	return w.b[start:w.i]
}

// value reads the next value whole and returns its raw bytes and its kind
// as peek gives it; kind is 0, and v nil, when a closing delimiter or the
// end comes next.
func (w *walk) value() (v []byte, kind byte) {
	kind = w.peek()
	start := w.i
	switch kind {
	case '"':
		w.i = stringEnd(w.b, start)
	case '0':
		w.i = numberEnd(w.b, start)
	case 't', 'n':
		w.i = min(w.i+len("true"), len(w.b))
	case 'f':
		w.i = min(w.i+len("false"), len(w.b))
	case '{', '[':
		w.i = containerEnd(w.b, start)
	default:
		return nil, 0
	}
	return w.b[start:w.i], kind
}

// stringEnd returns the index after the string whose opening quote is at
// b[i]. A byte loop: the strings are short, and a call to bytes.IndexByte
// cost more than it saved on 32-bit ARM.
func stringEnd(b []byte, start int) int {
	for i := uint(start) + 1; i < uint(len(b)); i++ {
		switch b[i] {
		case '"':
			return int(i) + 1
		case '\\':
			i++ // the escaped byte, which may be a quote; \u's hex digits are not
		}
	}
	return len(b) // not reached on valid JSON
}

// numberEnd returns the index after the number that starts at b[i]. Of the
// bytes that may follow a number in valid JSON, only ',', white space, '}'
// and ']', none is a digit, a sign, a point or an exponent.
func numberEnd(b []byte, start int) int {
	for i := uint(start) + 1; i < uint(len(b)); i++ {
		if c := b[i]; c-'0' > 9 && c != '.' && c != '-' && c != '+' && c|0x20 != 'e' {
			return int(i)
		}
	}
	return len(b)
}

// containerEnd returns the index after the object or array that opens at
// b[i], counting brackets outside strings; no recursion, so that any
// depth jsontext accepts costs no stack.
func containerEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"':
			i = stringEnd(b, i)
			continue
		}
		i++
	}
	return len(b) // not reached on valid JSON
}
