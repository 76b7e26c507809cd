package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SaveConnections rewrites the connections list of the file at path and
// leaves every other byte as it was: the technician's comments, devices,
// sections and layout survive API changes. Each connection is written as one
// line of IoT Flow JSON with its id, so ids stay what the API announced.
// The write is atomic (a temporary file in the same directory, fsync,
// rename, fsync of the directory): a power cut leaves the old file or the
// new one. A missing file is created. Callers serialise their calls.
func SaveConnections(path string, conns []Connection) error {
	return rewriteFile(path, func(data []byte) ([]byte, error) {
		out, err := replaceConnections(data, conns)
		if err == nil {
			err = checkRewrite(out, conns)
		}
		return out, err
	})
}

// rewriteFile reads the file at path (through a symlink, which stays one;
// a missing file reads as empty), lets rewrite make its new text, and
// writes that atomically with the old file's mode and owner.
func rewriteFile(path string, rewrite func(data []byte) ([]byte, error)) error {
	real, err := filepath.EvalSymlinks(path) // keep a symlinked config a symlink
	if errors.Is(err, fs.ErrNotExist) {
		real = path
	} else if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	data, err := os.ReadFile(real)
	var perm fs.FileMode = 0o600 // connections may carry tokens in headers
	var old fs.FileInfo
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return fmt.Errorf("config: %w", err)
	default:
		if old, err = os.Stat(real); err == nil {
			perm = old.Mode().Perm()
		}
	}
	out, err := rewrite(data)
	if err != nil {
		return fmt.Errorf("config: cannot rewrite %s: %w", path, err)
	}
	return writeAtomic(real, out, perm, old)
}

// replaceConnections returns data with the value of its top-level
// connections key replaced by conns.
func replaceConnections(data []byte, conns []Connection) ([]byte, error) {
	doc, perr := readYAML(data)
	if perr != nil {
		return nil, fmt.Errorf("line %d: %s", perr.Line, perr.Msg)
	}
	if err := lineBreaksEditable(data); err != nil {
		return nil, err
	}
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n" // a file edited on Windows keeps its line ends
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 && !isNull(doc.Content[0]) {
		root = doc.Content[0]
	}
	if root == nil {
		return append(withNewline(data, nl), renderConnections(conns, "connections:", nil, "  ", nl)...), nil
	}
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 {
		return nil, errors.New("the file is not a block mapping of sections")
	}
	lines := strings.SplitAfter(string(data), "\n")
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "connections" {
			continue
		}
		indent := strings.Repeat(" ", k.Column-1)
		start := k.Line - 1
		end := len(lines)
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
		}
		if start >= len(lines) || end <= start {
			return nil, errors.New("cannot find the connections section")
		}
		// Comment lines and blank lines at the end of the section (a
		// commented-out connection, the next section's heading) are kept.
		for end-1 > start && isCommentOrBlank(lines[end-1]) {
			end--
		}
		// So are the comments between the key and the first connection.
		head := start + 1
		for head < end && isCommentOrBlank(lines[head]) && strings.TrimSpace(lines[head]) != "" {
			head++
		}
		item := indent + "  "
		if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Content[0].Column >= 3 {
			item = strings.Repeat(" ", v.Content[0].Column-3) // the file's own "- " indentation
		}
		keyLine := indent + "connections:"
		if v.Line != k.Line {
			// The key stands alone on its line: keep the line, comment and
			// spacing included.
			keyLine = strings.TrimRight(lines[start], "\r\n")
		} else if c := v.LineComment + k.LineComment; c != "" {
			keyLine += " " + c
		}
		var b strings.Builder
		for _, l := range lines[:start] {
			b.WriteString(l)
		}
		b.WriteString(renderConnections(conns, keyLine, lines[start+1:head], item, nl))
		for _, l := range lines[end:] {
			b.WriteString(l)
		}
		return []byte(b.String()), nil
	}
	// A file whose sections are indented (pasted with a margin) gets the
	// new section at their indent: at column 1 it would end the mapping.
	margin := ""
	if len(root.Content) > 0 {
		margin = strings.Repeat(" ", root.Content[0].Column-1)
	}
	return append(withNewline(data, nl), renderConnections(conns, margin+"connections:", nil, margin+"  ", nl)...), nil
}

// lineBreaksEditable refuses a file whose line breaks are not all LF or
// CRLF. YAML also breaks lines at a lone CR, NEL, LS and PS; the in-place
// rewrites count lines at LF, and with those the node's line numbers
// would point at the wrong text.
func lineBreaksEditable(data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			return fmt.Errorf("line %d ends in a lone carriage return (CR); save the file with LF or CRLF line ends to edit it here", bytes.Count(data[:i], []byte("\n"))+1)
		}
	}
	for _, r := range []string{"\u0085", "\u2028", "\u2029"} {
		if i := bytes.Index(data, []byte(r)); i >= 0 {
			return fmt.Errorf("line %d holds a Unicode line separator (U+%04X), which YAML reads as a line break; replace it to edit the file here", bytes.Count(data[:i], []byte("\n"))+1, []rune(r)[0])
		}
	}
	return nil
}

func isCommentOrBlank(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "#")
}

func withNewline(data []byte, nl string) []byte {
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, nl...)
	}
	return data
}

// renderConnections writes the key line, the comments kept under it and
// one line of JSON per connection, each with its id.
func renderConnections(conns []Connection, keyLine string, comments []string, item, nl string) string {
	var b strings.Builder
	if len(conns) == 0 {
		key, comment, _ := strings.Cut(keyLine, "#")
		keyLine = strings.TrimRight(key, " ") + " []"
		if comment != "" {
			keyLine += " #" + comment
		}
	}
	b.WriteString(keyLine + nl)
	for _, c := range comments {
		b.WriteString(c)
	}
	conns = append([]Connection(nil), conns...)
	AssignIDs(conns) // written out, so that a rename keeps the id the API gave
	for _, c := range conns {
		b.WriteString(item + "- " + connectionJSON(c) + nl)
	}
	return b.String()
}

// checkRewrite reads the new text back: it must hold exactly conns, and the
// rest of the file must read as before.
func checkRewrite(out []byte, conns []Connection) error {
	c, _, err := Parse(out, "")
	var e *Error
	if errors.As(err, &e) {
		for _, p := range e.Problems {
			if p.Path == "" || strings.HasPrefix(p.Path, "connections") {
				return fmt.Errorf("the new connections do not read back: %s", p.Format(""))
			}
		}
		return nil // problems elsewhere were there before; not ours to fix
	}
	want := &Config{Connections: append([]Connection(nil), conns...)}
	want.Complete()
	got, _ := json.Marshal(c.Connections)
	exp, _ := json.Marshal(want.Connections)
	if len(conns) == 0 {
		exp = []byte("null")
	}
	if !bytes.Equal(got, exp) {
		return fmt.Errorf("the new connections read back differently: %s", got)
	}
	return nil
}

// writeAtomic replaces path with data so that a crash or power cut at any
// moment leaves either the old file or the new one.
func writeAtomic(path string, data []byte, perm fs.FileMode, old fs.FileInfo) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("config: writing %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if old != nil {
		keepOwner(f, old.Sys())
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable only once the directory is on flash too.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
