package connector

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadResponse feeds arbitrary bytes to the response reader, as a
// hostile endpoint or a broken middlebox would: it must not panic, loop
// or keep more than its limits. Seeds: testdata/fuzz/FuzzReadResponse.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false)
	f.Fuzz(func(t *testing.T, data []byte, tunnel bool) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4<<10)
		var r response
		for range 64 {
			err := readResponse(br, &r, tunnel)
			if len(r.msg) > maxMsgLen || r.bodyRead > maxBodyLen+maxLineLen || len(r.line) > maxLineLen {
				t.Fatalf("limits exceeded: msg %d, body %d, line %d", len(r.msg), r.bodyRead, len(r.line))
			}
			if err != nil {
				return
			}
			if r.code < 200 || r.code > 599 {
				t.Fatalf("final status %d", r.code)
			}
			if r.close {
				return
			}
			_ = r.outcome()
			if br.Buffered() == 0 {
				if _, err := br.Peek(1); err != nil {
					return
				}
			}
		}
	})
}
