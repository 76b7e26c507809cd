package connector

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzBodyText feeds arbitrary answer bodies (an endpoint's, a proxy's, a
// captive portal's) to what turns them into a status line: no control
// characters (CR, LF) may come out, and it stays short.
func FuzzBodyText(f *testing.F) {
	f.Add("<html>\r\n<head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><hr>nginx</body></html>", "text/html")
	f.Add("{\"error\":\"bad token\"}\r\n", "application/json")
	f.Add("<script>alert(1)</script><p>a &amp; b</p>", "")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		s := bodyText("403 Forbidden", contentType, []byte(body))
		if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("control character in %q", s)
		}
		if n := utf8.RuneCountInString(s); n > len("403 Forbidden: ")+201 {
			t.Fatalf("%d runes", n)
		}
	})
}
