package fwdconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The gateway_conf keys that name the network server.
const (
	KeyAddress  = "server_address"
	KeyPortUp   = "serv_port_up"
	KeyPortDown = "serv_port_down"
)

// Server is where the forwarder sends its datagrams: PUSH_DATA to PortUp,
// PULL_DATA and TX_ACK to PortDown. A zero field was not in the file.
type Server struct {
	Address  string
	PortUp   int
	PortDown int
}

// File is a parsed configuration, its text kept as it was.
type File struct {
	text []byte
	gw   *object // gateway_conf; nil when the file has none
}

// span is a value's bytes, [start, end) in the text.
type span struct{ start, end int }

type member struct {
	key       string
	keyStart  int // offset of the key's opening quote
	val       span
	obj       *object // when the value is an object
	duplicate bool
}

type object struct {
	open, close int // offsets of '{' and '}'
	members     []*member
}

func (o *object) get(key string) *member {
	for _, m := range o.members {
		if m.key == key {
			return m
		}
	}
	return nil
}

// Parse reads a forwarder configuration. It must be one JSON object once
// its comments are blanked out.
func Parse(b []byte) (*File, error) {
	clean, err := blankComments(b)
	if err != nil {
		return nil, err
	}
	if !json.Valid(clean) {
		var v any
		err := json.Unmarshal(clean, &v)
		return nil, fmt.Errorf("not valid JSON (comments aside): %v", err)
	}
	s := &scanner{b: clean}
	s.space()
	if s.i >= len(clean) || clean[s.i] != '{' {
		return nil, errors.New("the file is not a JSON object")
	}
	root, err := s.object()
	if err != nil {
		return nil, err
	}
	f := &File{text: b}
	if m := root.get("gateway_conf"); m != nil {
		if m.duplicate {
			return nil, errors.New("gateway_conf appears twice")
		}
		if m.obj == nil {
			return nil, errors.New("gateway_conf is not an object")
		}
		f.gw = m.obj
		for _, k := range []string{KeyAddress, KeyPortUp, KeyPortDown} {
			if m := f.gw.get(k); m != nil && m.duplicate {
				return nil, fmt.Errorf("gateway_conf.%s appears twice", k)
			}
		}
	}
	return f, nil
}

// HasGatewayConf tells whether the file has a gateway_conf section.
func (f *File) HasGatewayConf() bool { return f.gw != nil }

// MultiServer tells whether gateway_conf lists servers in a "servers"
// array (the TTN poly/mp forwarders), which this package does not edit.
func (f *File) MultiServer() bool { return f.gw != nil && f.gw.get("servers") != nil }

// Server returns the server keys the file sets.
func (f *File) Server() (Server, error) {
	var s Server
	if f.gw == nil {
		return s, nil
	}
	if m := f.gw.get(KeyAddress); m != nil {
		if err := json.Unmarshal(f.text[m.val.start:m.val.end], &s.Address); err != nil {
			return s, fmt.Errorf("gateway_conf.%s is not a string", KeyAddress)
		}
	}
	for _, p := range []struct {
		key string
		to  *int
	}{{KeyPortUp, &s.PortUp}, {KeyPortDown, &s.PortDown}} {
		m := f.gw.get(p.key)
		if m == nil {
			continue
		}
		var n float64
		if err := json.Unmarshal(f.text[m.val.start:m.val.end], &n); err != nil || n != math.Trunc(n) || n < 1 || n > 65535 {
			return s, fmt.Errorf("gateway_conf.%s is not a port number", p.key)
		}
		*p.to = int(n)
	}
	return s, nil
}

// SetServer returns the text with gateway_conf's server keys set to s
// (zero fields are left alone); keys missing from gateway_conf are added
// at its top, indented like its first key. Nothing else changes.
func (f *File) SetServer(s Server) ([]byte, error) {
	if f.gw == nil {
		return nil, errors.New("the file has no gateway_conf section")
	}
	type edit struct {
		at, end int
		with    string
	}
	var edits []edit
	var add []string
	set := func(key, lit string) {
		if m := f.gw.get(key); m != nil {
			edits = append(edits, edit{m.val.start, m.val.end, lit})
			return
		}
		add = append(add, strconv.Quote(key)+": "+lit)
	}
	if s.Address != "" {
		q, _ := json.Marshal(s.Address)
		set(KeyAddress, string(q))
	}
	if s.PortUp != 0 {
		set(KeyPortUp, strconv.Itoa(s.PortUp))
	}
	if s.PortDown != 0 {
		set(KeyPortDown, strconv.Itoa(s.PortDown))
	}
	if len(add) > 0 {
		if len(f.gw.members) > 0 {
			first := f.gw.members[0].keyStart
			indent := lineIndent(f.text, first)
			nl := "\n"
			if strings.Contains(string(f.text), "\r\n") {
				nl = "\r\n"
			}
			edits = append(edits, edit{first, first, strings.Join(add, ","+nl+indent) + "," + nl + indent})
		} else {
			edits = append(edits, edit{f.gw.open + 1, f.gw.open + 1, " " + strings.Join(add, ", ") + " "})
		}
	}
	out := append([]byte(nil), f.text...)
	// From the end backwards, so that earlier offsets stay valid.
	sort.Slice(edits, func(i, j int) bool { return edits[i].at < edits[j].at })
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		out = append(out[:e.at], append([]byte(e.with), out[e.end:]...)...)
	}
	// What is written must read back as what was meant.
	g, err := Parse(out)
	if err != nil {
		return nil, fmt.Errorf("the edited file does not read back: %w", err)
	}
	got, err := g.Server()
	if err != nil || (s.Address != "" && got.Address != s.Address) ||
		(s.PortUp != 0 && got.PortUp != s.PortUp) || (s.PortDown != 0 && got.PortDown != s.PortDown) {
		return nil, fmt.Errorf("the edited file reads back as %+v", got)
	}
	return out, nil
}

// lineIndent is the run of spaces and tabs that starts the line holding
// offset at, when only blanks precede at on that line.
func lineIndent(b []byte, at int) string {
	i := at
	for i > 0 && (b[i-1] == ' ' || b[i-1] == '\t') {
		i--
	}
	if i > 0 && b[i-1] != '\n' {
		return ""
	}
	return string(b[i:at])
}
