package api

import (
	"fmt"
	"strings"
)

// Mask is what answers show in place of a secret, as IoT Flow does. A PUT
// that sends it back keeps the stored value, so GET-modify-PUT works.
const Mask = "*****"

// secretWords mark a key, header or query parameter whose value is a
// credential: passwords, tokens, API keys, Authorization headers,
// tunnelInterfaceAuthenticationKey, private keys.
var secretWords = []string{"pass", "secret", "token", "auth", "key", "cookie", "credential", "signature", "session"}

// secretName tells whether a key's value is a credential.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return n == "sig" || n == "code"
}

// urlName tells whether a key holds a URL whose query or user info may
// carry a credential (destinationURL, a proxy, an MQTT server).
func urlName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "url") || strings.Contains(n, "uri") || n == "server" || n == "hostname"
}

// maskTree replaces every credential in a decoded JSON object, in place.
// It works on the JSON form rather than on config's types so that a
// connector's new parameters (an MQTT password, a private key) are masked
// without this package knowing them.
func maskTree(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case string:
			if x == "" {
				continue
			}
			if secretName(k) {
				m[k] = Mask
			} else if urlName(k) {
				m[k] = maskURL(x)
			}
		case map[string]any:
			maskTree(x)
		case []any:
			for _, it := range x {
				if o, ok := it.(map[string]any); ok {
					maskTree(o)
				}
			}
		}
	}
}

// maskURL hides the password of the user info and the values of query
// parameters named like credentials (TAGO's ?authorization=, NOMOSENSE's
// ?apikey=). It works on the text, so the rest reads exactly as stored.
func maskURL(s string) string {
	u := splitURL(s)
	if u.pass != "" {
		u.pass = Mask
	}
	for i, p := range u.query {
		if p.val != "" && secretName(p.key) {
			u.query[i].val = Mask
		}
	}
	return u.String()
}

// restoreURL puts the stored credentials back where got carries the mask.
// It reports a mask with nothing stored to restore.
func restoreURL(got, stored string) (string, error) {
	if got == maskURL(stored) {
		return stored, nil
	}
	if !strings.Contains(got, Mask) && !strings.Contains(got, "%2A%2A%2A%2A%2A") {
		return got, nil
	}
	g, s := splitURL(got), splitURL(stored)
	if isMask(g.pass) {
		if s.pass == "" {
			return "", fmt.Errorf("the password in the URL is the mask %q and none is stored; send the real one", Mask)
		}
		g.pass = s.pass
	}
	for i, p := range g.query {
		if !isMask(p.val) {
			continue
		}
		v, ok := s.param(p.key)
		if !ok {
			return "", fmt.Errorf("query parameter %q is the mask %q and none is stored; send the real value", p.key, Mask)
		}
		g.query[i].val = v
	}
	return g.String(), nil
}

func isMask(s string) bool { return s == Mask || strings.EqualFold(s, "%2A%2A%2A%2A%2A") }

// urlParts is a URL cut where credentials live, each part kept as written.
type urlParts struct {
	head     string // scheme://user
	pass     string // "" when there is no password
	hasPass  bool
	rest     string // @host/path, or host/path
	query    []queryParam
	hasQuery bool
	fragment string // with its '#'
}

type queryParam struct {
	key, val string
	hasEq    bool
}

func splitURL(s string) urlParts {
	var u urlParts
	s, frag, ok := strings.Cut(s, "#")
	if ok {
		u.fragment = "#" + frag
	}
	s, q, ok := strings.Cut(s, "?")
	u.hasQuery = ok
	if ok {
		for _, part := range strings.Split(q, "&") {
			k, v, eq := strings.Cut(part, "=")
			u.query = append(u.query, queryParam{key: k, val: v, hasEq: eq})
		}
	}
	u.head = s
	if i := strings.Index(s, "://"); i >= 0 {
		auth := s[i+3:]
		if j := strings.IndexAny(auth, "/"); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndex(auth, "@"); at >= 0 {
			if c := strings.Index(auth[:at], ":"); c >= 0 {
				u.head = s[:i+3+c]
				u.pass = auth[c+1 : at]
				u.hasPass = true
				u.rest = s[i+3+at:]
			}
		}
	}
	if !u.hasPass {
		u.head, u.rest = s, ""
	}
	return u
}

func (u urlParts) param(key string) (string, bool) {
	for _, p := range u.query {
		if p.key == key {
			return p.val, true
		}
	}
	return "", false
}

func (u urlParts) String() string {
	var b strings.Builder
	b.WriteString(u.head)
	if u.hasPass {
		b.WriteString(":" + u.pass)
	}
	b.WriteString(u.rest)
	if u.hasQuery {
		b.WriteByte('?')
		for i, p := range u.query {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(p.key)
			if p.hasEq {
				b.WriteString("=" + p.val)
			}
		}
	}
	b.WriteString(u.fragment)
	return b.String()
}

// restoreTree replaces each mask in got (a request body) by the value at the
// same place in stored (the connection as configured), in place. Its errors
// name the path of a mask that has nothing behind it.
func restoreTree(got, stored map[string]any, path string) []Problem {
	var probs []Problem
	for k, v := range got {
		p := joinPath(path, k)
		sv := stored[k]
		switch x := v.(type) {
		case string:
			ss, _ := sv.(string)
			if isMask(x) {
				if ss == "" {
					probs = append(probs, Problem{Path: p, Message: fmt.Sprintf("%q is the mask answers show for a secret, and nothing is stored here to keep; send the real value", Mask)})
					continue
				}
				got[k] = ss
				continue
			}
			if urlName(k) {
				r, err := restoreURL(x, ss)
				if err != nil {
					probs = append(probs, Problem{Path: p, Message: err.Error()})
					continue
				}
				got[k] = r
			}
		case map[string]any:
			so, _ := sv.(map[string]any)
			probs = append(probs, restoreTree(x, so, p)...)
		}
	}
	return probs
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Redact masks the credentials of every URL in a text, such as an error
// from Go's HTTP client, which quotes the whole URL ("Post
// \"https://…?apikey=…\": dial tcp: …"): errors are shown by /status,
// /connections and the event stream.
func Redact(s string) string {
	var b strings.Builder
	for {
		i := indexURL(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, " \t\r\n\"'<>`")
		if end < 0 {
			end = len(s)
		}
		b.WriteString(maskURL(s[:end]))
		s = s[end:]
	}
}

func indexURL(s string) int {
	i, j := strings.Index(s, "http://"), strings.Index(s, "https://")
	if i < 0 || j >= 0 && j < i {
		return j
	}
	return i
}
