package config

import (
	"encoding/json"
	"strings"
)

// InitText is what `edgeflow config init` prints: every key with its
// default and the reason for it. It parses without a problem into the same
// configuration as Default (a test holds it to that). Keys without a fixed
// default (the gateway's id, the buffer path that depends on the machine)
// are shown commented out.
func InitText() string {
	var b strings.Builder
	for _, l := range initHeader() {
		b.WriteString(l + "\n")
	}
	t := table(settings())
	scratch := scratchConfig(t)
	for _, s := range t.children("") {
		b.WriteString("\n")
		for _, l := range t.initLines(s, 0, -1, scratch) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func initHeader() []string {
	return []string{
		"# edgeflow configuration — `edgeflow config init` prints this file.",
		"#",
		"# Every key is shown with its default. Leave a key out (or delete it) to",
		"# keep the default. Indent with spaces, never tabs. `edgeflow config validate",
		"# --config FILE` lists every problem with its line before you restart.",
		"# JSON is YAML too: an IoT Flow connection object pastes in as it is.",
		"# Relative paths are taken from this file's directory.",
	}
}

// noteColumn is where the notes of a commented-out section's keys start.
const noteColumn = 39

// initLines writes setting s at depth (two spaces each) and what is under
// it. off is the depth of the commented-out (optional) section s is in, -1
// when none: its keys are commented out and their reasons are notes at the
// end of the line.
func (t table) initLines(s setting, depth, off int, scratch *Config) []string {
	if s.Ignored != "" {
		return nil
	}
	indent := strings.Repeat("  ", depth)
	var out []string
	if s.Reason != "" && off < 0 {
		for _, l := range strings.Split(s.Reason, "\n") {
			out = append(out, indent+"# "+l)
		}
	}
	line := func(text string) string {
		if off < 0 {
			return indent + text
		}
		return strings.Repeat("  ", off) + "# " + strings.Repeat("  ", depth-off) + text
	}
	switch {
	case s.init != nil:
		for _, l := range s.init() {
			out = append(out, indent+l)
		}
	case s.section():
		if s.Optional && off < 0 {
			off = depth
		}
		out = append(out, line(s.key()+":"))
		for _, c := range t.children(s.Path) {
			out = append(out, t.initLines(c, depth+1, off, scratch)...)
		}
	case s.Example != "" && off < 0:
		out = append(out, indent+"# "+s.key()+": "+s.Example)
	default:
		v := s.Example
		if v == "" {
			v = formatValue(s.defaultOf(scratch, Dirs{}))
		}
		l := line(s.key() + ": " + v)
		if off >= 0 && s.Reason != "" {
			l += strings.Repeat(" ", max(3, noteColumn-len([]rune(l)))) + "# " + s.Reason
		}
		out = append(out, l)
	}
	return out
}

// connectionJSON writes a connection as one line of JSON, the form IoT Flow
// shows and technicians paste, with its keys in IoT Flow's order.
func connectionJSON(c Connection) string {
	b, err := marshalJSON(c)
	if err != nil {
		return "{}" // a Connection has nothing json cannot encode
	}
	return string(b)
}

func marshalJSON(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs with & stay readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}
