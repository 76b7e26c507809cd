package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// readYAML parses data into one document node. A syntax error comes back as
// a Problem on the line where parsing first fails, which is where the
// technician has to look (yaml.v3 names the line its enclosing block began).
func readYAML(data []byte) (*yaml.Node, *Problem) {
	if why := notText(data); why != "" {
		return nil, &Problem{Msg: why}
	}
	doc, err := decodeOne(data)
	if err == nil {
		return doc, nil
	}
	p := syntaxProblem(data, err)
	return nil, &p
}

// decodeOne parses the first document and refuses a second one, which
// yaml.v3 would silently ignore.
func decodeOne(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		// The parser is third-party code fed by hand-edited files: a panic in
		// it must become a message, not a crash-looping service.
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("yaml: the YAML parser failed (%v)", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return &yaml.Node{}, nil // empty file: all defaults
		}
		return nil, err
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
		return &n, nil
	case err != nil:
		return nil, err
	}
	return nil, &secondDocError{line: secondDocLine(data)}
}

type secondDocError struct{ line int }

func (e *secondDocError) Error() string {
	return fmt.Sprintf("yaml: line %d: a second YAML document starts here (after ---); edgeflow reads one, so remove the --- line and merge the sections", e.line)
}

func secondDocLine(data []byte) int {
	seen := false
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimRight(l, " \r"), "---") {
			if seen || i > 0 && hasContentBefore(data, i) {
				return i + 1
			}
			seen = true
		}
	}
	return 0
}

func hasContentBefore(data []byte, line int) bool {
	for _, l := range strings.Split(string(data), "\n")[:line] {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "%") {
			return true
		}
	}
	return false
}

func syntaxProblem(data []byte, err error) Problem {
	var sd *secondDocError
	if errors.As(err, &sd) {
		return Problem{Line: sd.line, Msg: strings.TrimPrefix(err.Error(), fmt.Sprintf("yaml: line %d: ", sd.line))}
	}
	yline, msg := splitYAMLError(err.Error())
	line := yline
	lines := strings.SplitAfter(string(data), "\n")
	failsHere := func(k int) bool {
		_, perr := decodeOne([]byte(strings.Join(lines[:k], "")))
		if perr == nil {
			return false
		}
		_, m := splitYAMLError(perr.Error())
		return m == msg
	}
	// The first prefix of the file that fails the same way ends on the
	// offending line. It cannot end before the block yaml.v3 names, and
	// once a prefix fails longer ones do too, so a binary search finds it
	// in a dozen parses even for a long file.
	lo, hi := max(1, yline), len(lines)
	if lo <= hi && failsHere(hi) {
		for lo < hi {
			mid := (lo + hi) / 2
			if failsHere(mid) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		line = lo
	}
	msg = "YAML syntax error: " + msg
	if line > 0 && line <= len(lines) {
		if hint := syntaxHint(msg, lines[line-1]); hint != "" {
			msg += " (" + hint + ")"
		}
	}
	if yline > 0 && line > 0 && yline != line {
		msg += fmt.Sprintf("; the block it belongs to starts on line %d", yline)
	}
	return Problem{Line: line, Msg: msg}
}

// splitYAMLError takes "yaml: line 5: did not find expected key" apart.
func splitYAMLError(s string) (int, string) {
	s = strings.TrimPrefix(s, "yaml: ")
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return n, rest[i+2:]
			}
		}
	}
	return 0, s
}

func syntaxHint(msg, line string) string {
	switch {
	case strings.Contains(msg, "control characters are not allowed"):
		return controlHint(line)
	case lineInvisible(line) != "":
		return lineInvisible(line)
	case strings.Contains(line, "\t"):
		return "indent with spaces; YAML does not allow tabs"
	case strings.Contains(msg, "mapping values are not allowed"):
		return "a value that contains \": \" must be in quotes"
	case strings.Contains(msg, "did not find expected key"),
		strings.Contains(msg, "did not find expected '-' indicator"):
		return "check this line's indentation against the lines above"
	case strings.Contains(msg, "could not find expected ':'"):
		return "a key needs a colon and a space after it"
	case strings.ContainsAny(line, "\u201c\u201d\u2018\u2019"):
		return "replace the typographic quotes with plain \" quotes"
	}
	return ""
}

// resolve follows an alias to its anchor so that *anchors work like the
// values they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 10; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName says what a node is in words a technician uses.
func kindName(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping (key: value lines)"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", clip(n.Value))
	}
	return "something else"
}

// clip keeps quoted values in messages to one readable line.
func clip(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "…"
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return s
}
