package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// notText tells why data cannot be a configuration file at all (a gzip
// archive, a binary, a file in UTF-16), or "". YAML's own message for
// these ("control characters are not allowed") points at nothing a
// technician can fix.
func notText(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return "this is not a text file: it is gzip-compressed; give the YAML configuration file (gunzip it first)"
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		return "this file is in UTF-16; save it as UTF-8 (plain text)"
	}
	head := data[:min(len(data), 4096)]
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(trimPartialRune(head)) {
		return "this is not a text file (binary data); give the YAML configuration file"
	}
	return ""
}

// trimPartialRune drops a rune cut at the end of a prefix.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// controlHint names the control character on a line YAML refused, so that
// a tab hint is given for a tab only.
func controlHint(line string) string {
	for _, r := range line {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return fmt.Sprintf("the line holds the invisible control character U+%04X; delete it or retype the line", r)
		}
	}
	return ""
}

// invisible are characters that look like a space, or like nothing, and
// come with text pasted from web pages, PDFs and chat messages.
func invisibleNames() []struct{ esc, name string } {
	return []struct{ esc, name string }{
		{`\u00a0`, "a non-breaking space"},
		{`\u200b`, "a zero-width space"},
		{`\ufeff`, "a byte-order mark"},
		{`\u202f`, "a narrow non-breaking space"},
	}
}

// nameInvisible explains the escapes %q leaves in a message for characters
// a technician cannot see in the file.
func nameInvisible(msg string) string {
	var named []string
	for _, c := range invisibleNames() {
		if strings.Contains(msg, c.esc) {
			named = append(named, c.esc+" is "+c.name)
		}
	}
	if len(named) == 0 {
		return msg
	}
	return msg + " (" + strings.Join(named, ", ") + ", usually pasted from a web page or a document: delete it)"
}

// lineInvisible names a character of invisibleNames on a line YAML refused.
func lineInvisible(line string) string {
	for _, c := range []struct {
		r    rune
		name string
	}{{'\u00a0', "a non-breaking space"}, {'\u200b', "a zero-width space"}, {'\u202f', "a narrow non-breaking space"}, {'\ufeff', "a byte-order mark"}} {
		if strings.ContainsRune(line, c.r) {
			return fmt.Sprintf("the line holds %s (U+%04X), usually pasted from a web page or a document; delete it or type a normal space", c.name, c.r)
		}
	}
	return ""
}

// schemeFix rewrites a URL whose scheme is mistyped ("https//host",
// "https:/host", "https:host") to "https://host"; "" when s does not start
// with such a scheme.
func schemeFix(s string) string {
	lower := strings.ToLower(s)
	for _, sc := range []string{"https", "http"} {
		if !strings.HasPrefix(lower, sc) {
			continue
		}
		rest := s[len(sc):]
		host := strings.TrimLeft(rest, ":/")
		if host == rest || host == "" {
			return "" // "httpbin.org/…": a host that starts with http
		}
		return sc + "://" + host
	}
	return ""
}
