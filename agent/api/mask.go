package api

import (
	"fmt"
	"strings"

	"edgeflow/config"
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
// (Logs and errors go further: config.Redact hides every query value.)
func maskURL(s string) string {
	u := config.SplitURL(s)
	if user, pass, ok := strings.Cut(u.User, ":"); ok && pass != "" {
		u.User = user + ":" + Mask
	}
	for i, p := range u.Query {
		if p.Val != "" && secretName(p.Key) {
			u.Query[i].Val = Mask
		}
	}
	return u.String()
}

// restoreURL puts the stored credentials back where got carries the mask,
// and reports whether it did. It refuses a mask with nothing stored.
func restoreURL(got, stored string) (string, bool, error) {
	if got == maskURL(stored) {
		return stored, got != stored, nil
	}
	if !strings.Contains(got, Mask) && !strings.Contains(got, "%2A%2A%2A%2A%2A") {
		return got, false, nil
	}
	g, s := config.SplitURL(got), config.SplitURL(stored)
	restored := false
	if user, pass, ok := strings.Cut(g.User, ":"); ok && isMask(pass) {
		_, spass, sok := strings.Cut(s.User, ":")
		if !sok || spass == "" {
			return "", false, fmt.Errorf("the password in the URL is the mask %q and none is stored; send the real one", Mask)
		}
		g.User, restored = user+":"+spass, true
	}
	for i, p := range g.Query {
		if !isMask(p.Val) {
			continue
		}
		v, ok := s.Param(p.Key)
		if !ok {
			return "", false, fmt.Errorf("query parameter %q is the mask %q and none is stored; send the real value", p.Key, Mask)
		}
		g.Query[i].Val, restored = v, true
	}
	return g.String(), restored, nil
}

func isMask(s string) bool { return s == Mask || strings.EqualFold(s, "%2A%2A%2A%2A%2A") }

// restoreTree replaces each mask in got (a request body) by the value at the
// same place in stored (the connection as configured), in place. Its errors
// name the path of a mask that has nothing behind it.
// Every path where a stored secret was put back is added to restored.
func restoreTree(got, stored map[string]any, path string, restored *[]string) []Problem {
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
				*restored = append(*restored, p)
				continue
			}
			if urlName(k) {
				r, did, err := restoreURL(x, ss)
				if err != nil {
					probs = append(probs, Problem{Path: p, Message: err.Error()})
					continue
				}
				got[k] = r
				if did {
					*restored = append(*restored, p)
				}
			}
		case map[string]any:
			so, _ := sv.(map[string]any)
			probs = append(probs, restoreTree(x, so, p, restored)...)
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
