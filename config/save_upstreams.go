package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SaveUpstreams sets packetForwarder.udp.upstreams in the file at path and
// leaves every other byte as it was (comments, devices, connections,
// layout), adding the key and its sections when the file has none. The
// list is written on one line in flow style. The write is atomic, as
// SaveConnections's; a missing file is created.
func SaveUpstreams(path string, ups []string) error {
	return rewriteFile(path, func(data []byte) ([]byte, error) {
		out, err := replaceUpstreams(data, ups)
		if err == nil {
			err = checkUpstreamsRewrite(data, out, ups)
		}
		return out, err
	})
}

// WriteFileAtomic replaces path with data as the configuration's own
// write-back does: a temporary file beside it, fsync, rename, fsync of the
// directory, with perm and, when old is given, old's owner (a file of the
// service's user stays its). For other files edgeflow edits in place, such
// as a packet forwarder's configuration.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode, old fs.FileInfo) error {
	return writeAtomic(path, data, perm, old)
}

// flowList writes ups as a one-line YAML flow sequence of JSON strings.
func flowList(ups []string) string {
	q := make([]string, len(ups))
	for i, u := range ups {
		b, _ := json.Marshal(u)
		q[i] = string(b)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// replaceUpstreams returns data with packetForwarder.udp.upstreams set.
func replaceUpstreams(data []byte, ups []string) ([]byte, error) {
	doc, perr := readYAML(data)
	if perr != nil {
		return nil, fmt.Errorf("line %d: %s", perr.Line, perr.Msg)
	}
	if err := lineBreaksEditable(data); err != nil {
		return nil, err
	}
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n"
	}
	value := "upstreams: " + flowList(ups)
	lines := strings.SplitAfter(string(data), "\n")
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 && !isNull(doc.Content[0]) {
		root = doc.Content[0]
	}
	if root == nil {
		for _, l := range lines {
			if !isCommentOrBlank(l) && strings.TrimSpace(l) != "---" {
				return nil, errors.New("the file holds a value that is not a mapping of sections")
			}
		}
		return append(withNewline(data, nl), ("packetForwarder:" + nl + "  udp:" + nl + "    " + value + nl)...), nil
	}
	// Walk down packetForwarder → udp → upstreams; the first missing key
	// is inserted, with what is below it, under the last one found.
	path := []string{"packetForwarder", "udp", "upstreams"}
	n := root
	var key *yaml.Node // the last key found
	for depth, name := range path {
		if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
			if n.Kind == yaml.ScalarNode && isNull(n) && key != nil {
				return insertAfter(lines, key.Line, strings.Repeat(" ", key.Column+1), path[depth:], value, nl), nil
			}
			return nil, fmt.Errorf("%s is not a block mapping; edit it by hand", strings.Join(path[:depth], "."))
		}
		var k, v *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				k, v = n.Content[i], n.Content[i+1]
			}
		}
		if k == nil {
			if depth == 0 {
				// At the sections' own indent: a file pasted with a margin
				// would end its mapping at a key in column 1.
				m := ""
				if len(n.Content) > 0 {
					m = strings.Repeat(" ", n.Content[0].Column-1)
				}
				return append(withNewline(data, nl), (m + "packetForwarder:" + nl + m + "  udp:" + nl + m + "    " + value + nl)...), nil
			}
			indent := strings.Repeat(" ", key.Column+1)
			if len(n.Content) > 0 {
				indent = strings.Repeat(" ", n.Content[0].Column-1)
			}
			return insertAfter(lines, key.Line, indent, path[depth:], value, nl), nil
		}
		if name == "upstreams" {
			return replaceValue(lines, k, v, value, nl), nil
		}
		key, n = k, v
	}
	return nil, errors.New("unreachable")
}

// insertAfter adds the missing keys of path, then the value line, after
// line (1-based), each level two spaces deeper than the one before.
func insertAfter(lines []string, line int, indent string, path []string, value, nl string) []byte {
	var b strings.Builder
	for _, l := range lines[:line] {
		b.WriteString(l)
	}
	if line > 0 && !strings.HasSuffix(lines[line-1], "\n") {
		b.WriteString(nl)
	}
	for _, k := range path[:len(path)-1] {
		b.WriteString(indent + k + ":" + nl)
		indent += "  "
	}
	b.WriteString(indent + value + nl)
	for _, l := range lines[line:] {
		b.WriteString(l)
	}
	return []byte(b.String())
}

// replaceValue replaces the key's line and the lines of its value (those
// more indented than the key, or a block sequence's items at the key's
// indent; comments and blank lines at their end kept)
// with one line; the key's line comment stays.
func replaceValue(lines []string, k, v *yaml.Node, value, nl string) []byte {
	start := k.Line - 1
	end := start + 1
	// YAML lets a block sequence's items stand at their key's indent
	// ("upstreams:" then "- a" below it): those lines are the value too.
	indentless := v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && v.Line > k.Line
	for end < len(lines) {
		l := lines[end]
		t := strings.TrimLeft(l, " \t")
		if strings.TrimSpace(t) != "" && len(l)-len(t) < k.Column {
			item := len(l)-len(t) == k.Column-1 && (t == "-" || strings.HasPrefix(t, "-") && (t[1] == ' ' || t[1] == '\t' || t[1] == '\r' || t[1] == '\n'))
			if !indentless || !item {
				break
			}
		}
		end++
	}
	for end-1 > start && isCommentOrBlank(lines[end-1]) {
		end--
	}
	line := strings.Repeat(" ", k.Column-1) + value
	if c := v.LineComment + k.LineComment; c != "" && v.Line == k.Line {
		// The comment keeps its place: the blanks before it stay.
		orig := strings.TrimRight(lines[start], "\r\n")
		sp := " "
		if i := strings.LastIndex(orig, c); i > 0 {
			j := i
			for j > 0 && (orig[j-1] == ' ' || orig[j-1] == '\t') {
				j--
			}
			if j < i {
				sp = orig[j:i]
			}
		}
		line += sp + c
	}
	var b strings.Builder
	for _, l := range lines[:start] {
		b.WriteString(l)
	}
	b.WriteString(line + nl)
	for _, l := range lines[end:] {
		b.WriteString(l)
	}
	return []byte(b.String())
}

// checkUpstreamsRewrite reads the new text back: its upstreams must be
// ups and the rest must read as the old text did.
func checkUpstreamsRewrite(old, out []byte, ups []string) error {
	got, _, err := Parse(out, "")
	var e *Error
	if errors.As(err, &e) {
		for _, p := range e.Problems {
			if p.Path == "" || strings.HasPrefix(p.Path, "packetForwarder") {
				return fmt.Errorf("the new upstreams do not read back: %s", p.Format(""))
			}
		}
		return nil // problems elsewhere were there before; not ours to fix
	}
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(got.PacketForwarder.UDP.Upstreams, ups) && !(len(ups) == 0 && len(got.PacketForwarder.UDP.Upstreams) == 0) {
		return fmt.Errorf("the new upstreams read back as %q", got.PacketForwarder.UDP.Upstreams)
	}
	before, _, err := Parse(old, "")
	if err != nil {
		return nil
	}
	got.PacketForwarder.UDP.Upstreams = before.PacketForwarder.UDP.Upstreams
	a, _ := json.Marshal(before)
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		return errors.New("the rest of the file would read differently")
	}
	return nil
}
