package connector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"edgeflow/uplink"
)

// Pattern is a header value or topic with IoT Flow pattern expressions
// ("mqtt/things/{DevEUI}/uplink"), parsed once so that expanding it per
// uplink costs no parsing and no allocation beyond the result.
type Pattern struct {
	parts []patternPart
}

type patternPart struct {
	lit   string
	field patternField // 0: the part is the literal
}

type patternField int

const (
	fieldDevEUI patternField = iota + 1
	fieldDevAddr
	fieldFPort
	fieldFCntUp
)

// PatternFields are the expressions a pattern may hold. IoT Flow also
// accepts JsonPath ("{$..CustomerData.tags[0]}"); edgeflow has no
// CustomerData, so those are refused rather than sent empty.
func PatternFields() []string { return []string{"DevEUI", "DevAddr", "FPort", "FCntUp"} }

// ParsePattern parses s. A "{" that does not open a known field is an
// error: a typo would otherwise reach the endpoint literally.
func ParsePattern(s string) (Pattern, error) {
	var p Pattern
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			p.parts = append(p.parts, patternPart{lit: s})
			break
		}
		if i > 0 {
			p.parts = append(p.parts, patternPart{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return Pattern{}, errors.New("a { without its }")
		}
		name := s[i+1 : i+j]
		f := fieldOf(name)
		if f == 0 {
			return Pattern{}, fmt.Errorf("unknown pattern %s; known: {%s}", patternName(name), strings.Join(PatternFields(), "}, {"))
		}
		p.parts = append(p.parts, patternPart{field: f})
		s = s[i+j+1:]
	}
	return p, nil
}

// patternName quotes an unknown field for a message only when it looks
// like a field name: header values carry secrets, and those must not reach
// a log.
func patternName(name string) string {
	if len(name) > 24 {
		return "{…}"
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return "{…}"
		}
	}
	return "{" + name + "}"
}

func fieldOf(name string) patternField {
	for i, n := range PatternFields() {
		if n == name {
			return patternField(i + 1)
		}
	}
	return 0
}

// HasFields tells whether the pattern depends on the uplink.
func (p Pattern) HasFields() bool {
	for _, pt := range p.parts {
		if pt.field != 0 {
			return true
		}
	}
	return false
}

// Append appends the pattern expanded for u. DevEUI and DevAddr are
// upper-case hex, as in the DevEUI_uplink document.
func (p Pattern) Append(dst []byte, u *uplink.Uplink) []byte {
	for _, pt := range p.parts {
		switch pt.field {
		case 0:
			dst = append(dst, pt.lit...)
		case fieldDevEUI:
			dst = appendUpperHex(dst, u.DevEUI[:])
		case fieldDevAddr:
			dst = appendUpperHex(dst, u.DevAddr[:])
		case fieldFPort:
			dst = strconv.AppendUint(dst, uint64(u.FPort), 10)
		case fieldFCntUp:
			dst = strconv.AppendUint(dst, uint64(u.FCnt), 10)
		}
	}
	return dst
}

// Expand returns the pattern expanded for u.
func (p Pattern) Expand(u *uplink.Uplink) string { return string(p.Append(nil, u)) }

func appendUpperHex(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}
