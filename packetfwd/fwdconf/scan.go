package fwdconf

import (
	"encoding/json"
	"errors"
	"fmt"
)

// blankComments replaces "/* … */" and "// …" comments outside strings
// with spaces (newlines kept), so that offsets in the result are offsets
// in the original text.
func blankComments(b []byte) ([]byte, error) {
	out := append([]byte(nil), b...)
	inStr := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			j := i + 2
			for j+1 < len(out) && !(out[j] == '*' && out[j+1] == '/') {
				j++
			}
			if j+1 >= len(out) {
				return nil, fmt.Errorf("a /* comment at byte %d is never closed", i)
			}
			blank(out[i : j+2])
			i = j + 1
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			j := i
			for j < len(out) && out[j] != '\n' {
				j++
			}
			blank(out[i:j])
			i = j - 1
		}
	}
	return out, nil
}

func blank(b []byte) {
	for i, c := range b {
		if c != '\n' && c != '\r' {
			b[i] = ' '
		}
	}
}

// scanner walks text already checked by json.Valid, noting where each
// object's members are.
type scanner struct {
	b []byte
	i int
}

var errShape = errors.New("unexpected JSON shape")

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) object() (*object, error) {
	o := &object{open: s.i}
	s.i++ // '{'
	seen := map[string]*member{}
	for {
		s.space()
		if s.i >= len(s.b) {
			return nil, errShape
		}
		if s.b[s.i] == '}' {
			o.close = s.i
			s.i++
			return o, nil
		}
		if s.b[s.i] == ',' {
			s.i++
			continue
		}
		m := &member{keyStart: s.i}
		ks := s.i
		if err := s.str(); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(s.b[ks:s.i], &m.key); err != nil {
			return nil, err
		}
		s.space()
		s.i++ // ':'
		s.space()
		m.val.start = s.i
		if s.i < len(s.b) && s.b[s.i] == '{' {
			obj, err := s.object()
			if err != nil {
				return nil, err
			}
			m.obj = obj
		} else if err := s.value(); err != nil {
			return nil, err
		}
		m.val.end = s.i
		if prev := seen[m.key]; prev != nil {
			prev.duplicate, m.duplicate = true, true
		}
		seen[m.key] = m
		o.members = append(o.members, m)
	}
}

func (s *scanner) str() error {
	s.i++ // opening quote
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
			continue
		case '"':
			s.i++
			return nil
		}
		s.i++
	}
	return errShape
}

// value skips a non-object value: string, number, literal or array.
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return errShape
	}
	switch s.b[s.i] {
	case '"':
		return s.str()
	case '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if err := s.str(); err != nil {
					return err
				}
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errShape
	}
	for s.i < len(s.b) && !bytesContain(",}] \t\r\n", s.b[s.i]) {
		s.i++
	}
	return nil
}

func bytesContain(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}
