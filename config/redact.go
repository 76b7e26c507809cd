package config

import (
	"net"
	"net/url"
	"strings"
)

// Redacted stands where a credential was in anything edgeflow prints.
const Redacted = "*****"

// RedactURL is s as logs, warnings, errors and status may show it: the
// user info and every query value are replaced by Redacted, whatever their
// names (a URL's key is often a bare ?k= or ?code=). The rest reads as
// written, so a technician still sees which host and path are meant.
func RedactURL(s string) string {
	u := SplitURL(s)
	if u.HasUser {
		u.User = Redacted
	}
	for i := range u.Query {
		if u.Query[i].Val != "" || u.Query[i].HasEq {
			u.Query[i].Val = Redacted
			u.Query[i].HasEq = true
		}
	}
	return u.String()
}

// Redact redacts every URL in a text (scheme://…), such as an error of Go's
// HTTP client, which quotes the whole URL ("Post \"https://…?apikey=…\":
// dial tcp: …"), or paho's, which names the broker with its user info. It
// is the one path every message about a connection or a URL goes through
// before it is logged, shown by the API or printed.
func Redact(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		// The scheme is the letters before "://".
		start := i
		for start > 0 && isSchemeByte(s[start-1]) {
			start--
		}
		end := i + 3
		for end < len(s) && !strings.ContainsRune(" \t\r\n\"'<>`", rune(s[end])) {
			end++
		}
		if start == i { // "://" with no scheme: not a URL, but redact what follows all the same
			b.WriteString(s[:i+3])
			s = s[i+3:]
			continue
		}
		b.WriteString(s[:start])
		b.WriteString(RedactURL(s[start:end]))
		s = s[end:]
	}
}

// redactLoose is RedactURL for what may be a URL without its scheme
// ("user:pw@host/up"), as validation quotes it.
func redactLoose(s string) string {
	s = RedactURL(s)
	if at := strings.LastIndexByte(s, '@'); at >= 0 && !strings.Contains(s, "://") {
		if slash := strings.IndexByte(s, '/'); slash < 0 || slash > at {
			s = Redacted + s[at:]
		}
	}
	return s
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// Endpoint is where a URL sends: scheme://host:port, lower-cased, the port
// made explicit (443, 80, 1883, 8883…). Credentials kept for one endpoint
// go to no other (see the API's masks). "" when s is not a URL with a host.
func Endpoint(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "tcp": "1883", "mqtt": "1883",
			"ssl": "8883", "tls": "8883", "mqtts": "8883", "socks5": "1080"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port)
}

// URLParts is a URL cut where credentials live, each part kept as
// written, so that a URL put together again reads exactly as it came.
type URLParts struct {
	Head     string // scheme:// (and everything when there is no user info)
	User     string // user info (user:password), when HasUser
	HasUser  bool
	Rest     string // host/path after the user info's '@'
	Query    []QueryParam
	HasQuery bool
	Fragment string // with its '#'
}

// QueryParam is one key=value of a query, as written.
type QueryParam struct {
	Key, Val string
	HasEq    bool
}

// SplitURL cuts s without decoding it.
func SplitURL(s string) URLParts {
	var u URLParts
	s, frag, ok := strings.Cut(s, "#")
	if ok {
		u.Fragment = "#" + frag
	}
	s, q, ok := strings.Cut(s, "?")
	u.HasQuery = ok
	if ok {
		for _, part := range strings.Split(q, "&") {
			k, v, eq := strings.Cut(part, "=")
			u.Query = append(u.Query, QueryParam{Key: k, Val: v, HasEq: eq})
		}
	}
	u.Head = s
	if i := strings.Index(s, "://"); i >= 0 {
		auth := s[i+3:]
		if j := strings.IndexByte(auth, '/'); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndex(auth, "@"); at >= 0 {
			u.Head, u.User, u.HasUser, u.Rest = s[:i+3], auth[:at], true, s[i+3+at:]
		}
	}
	return u
}

// Param is the value of the first query parameter named key.
func (u URLParts) Param(key string) (string, bool) {
	for _, p := range u.Query {
		if p.Key == key {
			return p.Val, true
		}
	}
	return "", false
}

func (u URLParts) String() string {
	var b strings.Builder
	b.WriteString(u.Head)
	if u.HasUser {
		b.WriteString(u.User)
	}
	b.WriteString(u.Rest)
	if u.HasQuery {
		b.WriteByte('?')
		for i, p := range u.Query {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(p.Key)
			if p.HasEq {
				b.WriteString("=" + p.Val)
			}
		}
	}
	b.WriteString(u.Fragment)
	return b.String()
}

// Destination is where a connection's credentials go: its endpoint's
// scheme, host and port (the broker's for MQTT) and its proxy's. A stored
// secret is put back into a changed connection only when this is unchanged.
func (c Connection) Destination() string {
	var d string
	if c.ConnectorID == ConnectorMQTT {
		d = Endpoint(strings.ToLower(c.Configuration.MQTTProtocol()) + "://" + c.Configuration.HostName)
	} else {
		d = Endpoint(c.URL())
	}
	if p := c.Configuration.Proxy.URL(); p != nil {
		d += " via " + Endpoint(p.String())
	}
	return d
}
