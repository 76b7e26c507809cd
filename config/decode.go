package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// reader walks the YAML tree by hand, so that it can name every problem with
// its line and path and go on to the next one.
type reader struct {
	probs []Problem
	warns []Warning
	// at maps a field's path to its value node: the positions of problems
	// found later by validation, and whether a key was given at all.
	at map[string]*yaml.Node
	// broken holds the paths already reported as not a mapping, so that
	// validation does not add "name is required" and the like under them.
	broken map[string]bool
	// readOnly are the read-only keys met (a pasted GET answer's state,
	// history, counters), reported together by readOnlyWarning.
	readOnly []readOnlyKey
	// t and devKeys are the tables of settings and of a device's keys,
	// built once per file.
	t       table
	devKeys []deviceKey
}

type readOnlyKey struct {
	parent, key string
	node        *yaml.Node
}

func (rd *reader) problem(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	rd.probs = append(rd.probs, p)
}

func (rd *reader) warn(n *yaml.Node, path, format string, args ...any) {
	w := Warning{Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		w.Line, w.Column = n.Line, n.Column
	}
	rd.warns = append(rd.warns, w)
}

// section describes the keys of one mapping.
type section struct {
	known []string
	// ignored are IoT Flow keys edgeflow accepts but does not act on, each
	// with the reason it tells the operator.
	ignored map[string]string
	// readOnly are keys an API answer carries about the object (its state,
	// who changed it when): accepted and dropped, so that a GET answer
	// pastes in as it is, with one warning for them all.
	readOnly []string
}

// fields calls fn for each known key of the mapping n that has a value, and
// reports unknown keys (with the nearest known one), duplicated keys and a
// node that is not a mapping at all. It returns false in that last case.
func (rd *reader) fields(n *yaml.Node, path string, s section, fn func(key string, v *yaml.Node, path string)) bool {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		rd.problem(n, path, "%s must be a mapping (key: value lines), got %s", last(path), kindName(n))
		rd.broken[path] = true
		return false
	}
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			rd.problem(k, path, "a key must be a plain name, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			rd.problem(k, path, "YAML merge keys (<<) are not supported; write the keys out")
			continue
		}
		key := k.Value
		kp := join(path, key)
		if prev, dup := first[key]; dup {
			rd.problem(k, kp, "%q is given twice, here and on line %d; keep one", key, prev.Line)
			continue
		}
		first[key] = k
		if contains(s.readOnly, key) {
			rd.readOnly = append(rd.readOnly, readOnlyKey{parent: path, key: key, node: k})
			continue
		}
		if v.Kind == yaml.ScalarNode && strings.HasPrefix(path, "connections") && strings.Contains(v.Value, maskText) {
			rd.masked(v, kp)
			continue
		}
		if reason, ok := s.ignored[key]; ok {
			rd.warn(k, kp, "%s is ignored: %s", key, reason)
			continue
		}
		if !contains(s.known, key) {
			rd.problem(k, kp, "%s", unknownKey(key, path, s))
			continue
		}
		if isNull(v) {
			continue // "key:" with nothing after it leaves the default
		}
		rd.at[kp] = v
		fn(key, v, kp)
	}
	return true
}

// unknownKey explains an unknown key: the nearest key of this mapping, else
// the section where that key belongs (a wrong indentation), else the list.
func unknownKey(key, path string, s section) string {
	all := append(append([]string{}, s.known...), keysOf(s.ignored)...)
	msg := fmt.Sprintf("unknown key %q", clip(key))
	if sug := suggest(key, all); sug != "" && distance(fold(key), fold(sug)) <= 2 {
		return msg + fmt.Sprintf("; did you mean %q?", sug)
	}
	if where := sectionsWith(key); len(where) > 0 && !contains(where, schemaPath(path)) {
		return msg + fmt.Sprintf(" here; %q belongs under %s (check the indentation)", key, strings.Join(sectionNames(where), " or "))
	}
	if sug := suggest(key, all); sug != "" {
		return msg + fmt.Sprintf("; did you mean %q?", sug)
	}
	return msg + "; known keys here: " + strings.Join(s.known, ", ")
}

// sectionNames says where a section is in the words of the file.
func sectionNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		switch p {
		case "":
			out[i] = "the top level (no indentation)"
		case "connections[]":
			out[i] = "each connection"
		case "connections[].configuration":
			out[i] = "each connection's \"configuration\""
		case "devices[]":
			out[i] = "each device"
		default:
			out[i] = strconv.Quote(p)
		}
	}
	return out
}

// schemaPath turns "connections[3].configuration" into
// "connections[].configuration", the form sections are listed in.
func schemaPath(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			b.WriteString("[]")
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// last is the final key of a path, the name a technician sees in the file.
func last(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if path == "" {
		return "the file"
	}
	return path
}

func contains(ss []string, s string) bool { return slices.Contains(ss, s) }

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// str reads a scalar as text: numbers and booleans are text too, so an
// unquoted port or key still reads as written.
func (rd *reader) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		rd.problem(v, path, "%s must be a single value, got %s", last(path), kindName(v))
		return "", false
	}
	return v.Value, true
}

func (rd *reader) boolean(v *yaml.Node, path string) (bool, bool) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		switch strings.ToLower(v.Value) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	rd.problem(v, path, "%s must be true or false, got %s", last(path), kindName(v))
	return false, false
}

func (rd *reader) float(v *yaml.Node, path string) (*float64, bool) {
	if v.Kind == yaml.ScalarNode {
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return &f, true
		}
	}
	rd.problem(v, path, "%s must be a number, got %s", last(path), kindName(v))
	return nil, false
}

// strList reads a list of text values. One value where a list belongs is
// the commonest slip, so the message shows the list to write.
func (rd *reader) strList(v *yaml.Node, path string) ([]string, bool) {
	if v.Kind == yaml.ScalarNode {
		rd.problem(v, path, "%s must be a list; write %s: [%q]", last(path), last(path), clip(v.Value))
		return nil, false
	}
	if v.Kind != yaml.SequenceNode {
		rd.problem(v, path, "%s must be a list, got %s", last(path), kindName(v))
		return nil, false
	}
	var out []string
	ok := true
	for i, it := range v.Content {
		it = resolve(it)
		ip := index(path, i)
		rd.at[ip] = it
		s, good := rd.str(it, ip)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// seq checks that v is a list and returns its items.
func (rd *reader) seq(v *yaml.Node, path, what string) []*yaml.Node {
	if v.Kind != yaml.SequenceNode {
		hint := ""
		if v.Kind == yaml.MappingNode {
			hint = "; start each " + what + " with \"- \""
		}
		rd.problem(v, path, "%s must be a list of %ss, got %s%s", last(path), what, kindName(v), hint)
		return nil
	}
	out := make([]*yaml.Node, len(v.Content))
	for i, it := range v.Content {
		out[i] = resolve(it)
		rd.at[index(path, i)] = out[i]
	}
	return out
}

// hexField reads a hex key or EUI of n bytes into dst.
func (rd *reader) hexField(v *yaml.Node, path string, dst []byte) bool {
	s, ok := rd.str(v, path)
	if !ok {
		return false
	}
	b, msg := parseHex(last(path), s, len(dst))
	if msg != "" {
		rd.problem(v, path, "%s", msg)
		return false
	}
	copy(dst, b)
	return true
}

// parseHex decodes s as exactly n bytes of hex, explaining what is wrong in
// the terms of the label printed on the device.
func parseHex(name, s string, n int) ([]byte, string) {
	for i, r := range s {
		if !isHex(r) {
			pos := len([]rune(s[:i])) + 1
			hint := ""
			switch {
			case (r == 'x' || r == 'X') && pos == 2:
				hint = " (leave out the 0x)"
			case r == ':' || r == '-' || r == ' ':
				hint = " (write the digits without separators)"
			}
			return nil, fmt.Sprintf("%s has a non-hex digit %q at position %d%s", name, r, pos, hint)
		}
	}
	if len(s) != 2*n {
		return nil, fmt.Sprintf("%s must be %d hex digits, got %d", name, 2*n, len(s))
	}
	b := make([]byte, n)
	for i := range b {
		v, _ := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	return b, ""
}

func isHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// maskText is what edgeflow's and IoT Flow's answers show for a secret.
const maskText = "*****"

// masked refuses a secret copied masked from a GET answer: sent on, it
// would make the endpoint refuse every uplink. (The API's PUT puts the
// stored secret back before this; a file has none to keep.)
func (rd *reader) masked(v *yaml.Node, path string) {
	rd.problem(v, path, "%q is the mask GET answers show in place of a secret; type the real value here", maskText)
}

// readOnlyWarning is the one warning for every read-only key met.
func (rd *reader) readOnlyWarning() {
	if len(rd.readOnly) == 0 {
		return
	}
	first := rd.readOnly[0]
	byParent := map[string][]string{}
	var parents []string
	for _, r := range rd.readOnly {
		if byParent[r.parent] == nil {
			parents = append(parents, r.parent)
		}
		byParent[r.parent] = append(byParent[r.parent], r.key)
	}
	const why = "read-only keys of a GET answer are ignored (the API reports them; they are not configuration)"
	if len(parents) == 1 {
		rd.warn(first.node, first.parent, "%s: %s", why, strings.Join(byParent[first.parent], ", "))
		return
	}
	var parts []string
	for _, p := range parents {
		parts = append(parts, p+" ("+strings.Join(byParent[p], ", ")+")")
	}
	rd.warn(first.node, parent(first.parent), "%s: %s", why, strings.Join(parts, "; "))
}
