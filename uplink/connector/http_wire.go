package connector

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
)

// The response reader reads what an endpoint (or anything in between)
// sends back: untrusted input. Every loop is bounded by these limits or by
// the bytes it consumes, and anything it does not understand is an error
// that closes the connection rather than a guess that could desynchronise
// the pipeline (answer i taken for request i+1).
const (
	maxLineLen   = 8 << 10  // a status, header or chunk-size line
	maxHeaders   = 100      // header (or trailer) lines per response
	maxInterim   = 16       // 1xx responses before the final one
	maxMsgLen    = 512      // body bytes kept for the error message
	maxBodyLen   = 64 << 10 // body bytes read before giving up on the connection
	maxChunkSize = 1 << 40  // larger chunk sizes are nonsense, not a body
)

// protoError is a response that breaks HTTP/1.1 framing. A string type
// so that the errors are constants, not package variables.
type protoError string

func (e protoError) Error() string { return "bad HTTP response: " + string(e) }

const (
	errLongLine      = protoError("line too long")
	errBareCR        = protoError("bare CR in a line")
	errStatusLine    = protoError("malformed status line")
	errTooManyLines  = protoError("too many header lines")
	errHeaderLine    = protoError("malformed header line")
	errObsFold       = protoError("folded header line")
	errContentLength = protoError("bad or conflicting Content-Length")
	errChunk         = protoError("bad chunk")
	errInterim       = protoError("too many 1xx responses")
	errSwitching     = protoError("101 Switching Protocols without an Upgrade")
)

// response is one parsed answer. Its buffers are reused from one response
// to the next so that reading a 2xx allocates nothing; classify turns them
// into strings only for a failure.
type response struct {
	code       int
	status     []byte // "503 Service Unavailable"
	retryAfter []byte
	location   []byte
	msg        []byte // the first maxMsgLen bytes of the body
	// close: the connection cannot carry another request after this
	// response (Connection: close, HTTP/1.0, a body read until EOF, or a
	// body too large to drain).
	close bool

	line      []byte // a line longer than the bufio.Reader's buffer
	bodyRead  int
	cl        int64 // Content-Length, -1 when absent
	te        bool  // Transfer-Encoding present
	chunked   bool  // … and its final coding is chunked
	keepAlive bool
	minor     byte // HTTP/1.<minor>
}

func (r *response) reset() {
	r.code = 0
	r.status = r.status[:0]
	r.retryAfter = r.retryAfter[:0]
	r.location = r.location[:0]
	r.msg = r.msg[:0]
	r.close = false
	r.bodyRead = 0
	r.cl = -1
	r.te, r.chunked, r.keepAlive = false, false, false
}

// readResponse reads one final response (skipping 1xx interim ones) and
// its body. For CONNECT (tunnel), a 2xx has no body: the tunnel follows.
func readResponse(br *bufio.Reader, r *response, tunnel bool) error {
	for interim := 0; ; interim++ {
		if interim > maxInterim {
			return errInterim
		}
		r.reset()
		if err := r.readHead(br); err != nil {
			return err
		}
		if r.code == 101 {
			return errSwitching
		}
		if r.code >= 200 {
			break
		}
	}
	if r.minor == 0 && !r.keepAlive {
		r.close = true
	}
	switch {
	case tunnel && r.code/100 == 2, r.code == 204, r.code == 304:
		return nil
	case r.te:
		if r.cl >= 0 {
			// Both framings: a smuggling attempt or a broken
			// intermediary (RFC 9112 §6.3): honour Transfer-Encoding,
			// then do not trust the connection with more.
			r.close = true
		}
		if !r.chunked {
			r.close = true
			return r.readBody(br, -1)
		}
		return r.readChunked(br)
	case r.cl >= 0:
		return r.readBody(br, r.cl)
	}
	r.close = true
	return r.readBody(br, -1)
}

// readHead reads a status line and the header lines after it.
func (r *response) readHead(br *bufio.Reader) error {
	line, err := r.readLine(br)
	if err != nil {
		return err
	}
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errStatusLine
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errStatusLine
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		return errStatusLine
	}
	r.code, r.minor = code, line[7]-'0'
	r.status = append(r.status[:0], line[9:]...)
	return r.readFields(br, true)
}

// readFields reads header lines up to the empty line; trailers (headers
// false) are read the same way and ignored.
func (r *response) readFields(br *bufio.Reader, headers bool) error {
	for n := 0; ; n++ {
		line, err := r.readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if n >= maxHeaders {
			return errTooManyLines
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return errHeaderLine
		}
		if !headers {
			continue
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			if err := r.contentLength(value); err != nil {
				return err
			}
		case equalFold(name, "transfer-encoding"):
			// The final coding of the last field decides (RFC 9112 §6.3).
			r.te = true
			last := value
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				last = trimOWS(value[i+1:])
			}
			r.chunked = equalFold(last, "chunked")
		case equalFold(name, "connection"):
			for _, tok := range bytes.Split(value, []byte{','}) {
				switch tok = trimOWS(tok); {
				case equalFold(tok, "close"):
					r.close = true
				case equalFold(tok, "keep-alive"):
					r.keepAlive = true
				}
			}
		case equalFold(name, "retry-after"):
			r.retryAfter = append(r.retryAfter[:0], value...)
		case equalFold(name, "location"):
			r.location = append(r.location[:0], value...)
		}
	}
}

// contentLength accepts "42" and the list form "42, 42" (RFC 9110 §8.6),
// and repeated fields, as long as every value is the same.
func (r *response) contentLength(v []byte) error {
	for {
		tok, rest, more := bytes.Cut(v, []byte{','})
		tok = trimOWS(tok)
		if len(tok) == 0 || len(tok) > 15 {
			return errContentLength
		}
		var n int64
		for _, c := range tok {
			if c < '0' || c > '9' {
				return errContentLength
			}
			n = n*10 + int64(c-'0')
		}
		if r.cl >= 0 && r.cl != n {
			return errContentLength
		}
		r.cl = n
		if !more {
			return nil
		}
		v = rest
	}
}

// readChunked reads a chunked body and its trailers.
func (r *response) readChunked(br *bufio.Reader) error {
	for {
		line, err := r.readLine(br)
		if err != nil {
			return err
		}
		// Framing counts towards the body budget: a stream of tiny chunks
		// with long extensions is as endless as a long body.
		r.bodyRead += len(line)
		i := 0
		var size int64
		for ; i < len(line) && i < 12; i++ {
			d := unhex(line[i])
			if d < 0 {
				break
			}
			size = size<<4 | int64(d)
		}
		if i == 0 || size > maxChunkSize || (i < len(line) && line[i] != ';' && line[i] != ' ' && line[i] != '\t') {
			return errChunk
		}
		if size == 0 {
			return r.readFields(br, false)
		}
		if err := r.readBody(br, size); err != nil || r.close {
			return err
		}
		line, err = r.readLine(br)
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return errChunk
		}
	}
}

// readBody consumes n body bytes (n < 0: until EOF), keeping the first
// maxMsgLen for the error message. Past maxBodyLen it stops and marks the
// connection for closing: draining a huge body costs more than a redial.
func (r *response) readBody(br *bufio.Reader, n int64) error {
	for n != 0 {
		if r.bodyRead >= maxBodyLen {
			r.close = true
			return nil
		}
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				if n < 0 {
					return nil
				}
				return io.ErrUnexpectedEOF
			}
			return err
		}
		k := br.Buffered()
		k = min(k, maxBodyLen-r.bodyRead)
		if n > 0 && int64(k) > n {
			k = int(n)
		}
		if room := maxMsgLen - len(r.msg); room > 0 {
			p, _ := br.Peek(min(k, room))
			r.msg = append(r.msg, p...)
		}
		_, _ = br.Discard(k)
		r.bodyRead += k
		if n > 0 {
			n -= int64(k)
		}
	}
	return nil
}

// readLine returns a line without its CRLF (a bare LF is accepted, RFC
// 9112 §2.2). The slice is valid until the next read.
func (r *response) readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.line = append(r.line[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			if len(r.line)+len(line) > maxLineLen {
				return nil, errLongLine
			}
			r.line = append(r.line, line...)
		}
		line = r.line
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) > maxLineLen {
		return nil, errLongLine
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, errBareCR
	}
	return line, nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with lower-case ASCII s, ignoring b's case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isToken tells whether b is an RFC 9110 token (a header name).
func isToken[T string | []byte](b T) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validFieldValue tells whether s can be sent as a header value: no
// control characters but HTAB, so no CR/LF to inject a header or a request.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// appendFieldValue appends an expanded header value without the bytes
// validFieldValue refuses, as a last guard against injection.
func appendFieldValue(dst, v []byte) []byte {
	for _, c := range v {
		if c >= ' ' && c != 0x7f || c == '\t' {
			dst = append(dst, c)
		}
	}
	return dst
}

// keepFieldValue filters v in place like appendFieldValue and returns
// the length kept.
func keepFieldValue(v []byte) int {
	w := 0
	for _, c := range v {
		if c >= ' ' && c != 0x7f || c == '\t' {
			v[w] = c
			w++
		}
	}
	return w
}

// appendRequestHead is the request line and Host; the rest of the head
// is the connector's (see HTTP.appendRequest).
func appendRequestHead(b []byte, origin, target, host string) []byte {
	b = append(b, "POST "...)
	b = append(b, origin...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	return append(b, "\r\n"...)
}

func appendContentLength(b []byte, n int) []byte {
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, "\r\n\r\n"...)
}
