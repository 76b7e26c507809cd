package config

import (
	"fmt"
	"strings"
)

// The checks of the settings table that more than one setting uses, and
// those too long to read inside it.

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// enum accepts one of values(); what names the value in the message
// ("log level").
func enum(what string, values func() []string) check {
	return check{"one of " + strings.Join(values(), ", "), func(ch *checker, p string, v any, _ *Config) {
		if s := v.(string); !contains(values(), s) {
			ch.problem(p, "%s", oneOf(what, s, values()))
		}
	}}
}

func positive(ch *checker, p string, v any) {
	if d := v.(Duration); d <= 0 {
		ch.problem(p, "%s must be more than 0, got %s", last(p), d)
	}
}

func positiveCheck(ch *checker, p string, v any, _ *Config) { positive(ch, p, v) }

// floatRange accepts a number from lo to hi, or none (the key left out).
func floatRange(lo, hi float64) check {
	return check{fmt.Sprintf("from %g to %g", lo, hi), func(ch *checker, p string, v any, _ *Config) {
		if f := v.(*float64); f != nil && (*f < lo || *f > hi) {
			ch.problem(p, "%s must be between %g and %g degrees, got %g", last(p), lo, hi, *f)
		}
	}}
}

// bindCheck accepts host:port to listen on; example is the default, shown
// in the message.
func bindCheck(example string) check {
	return check{"host:port", func(ch *checker, p string, v any, _ *Config) { checkBind(ch, p, v.(string), example) }}
}

func checkGatewayID(ch *checker, p string, v any, _ *Config) {
	if id := v.(string); id != "" {
		if _, msg := parseHex("id", id, 8); msg != "" {
			ch.problem(p, "%s (the gateway EUI)", msg)
		}
	}
}

// checkAllow checks each entry, and warns when the UDP listener takes
// datagrams from anyone.
func checkAllow(ch *checker, p string, v any, c *Config) {
	allow := v.([]string)
	for i, s := range allow {
		if _, ok := parsePrefix(s); !ok {
			ch.problem(index(p, i), "%q is not an IP address or a CIDR prefix such as 192.168.1.0/24", clip(s))
		}
	}
	u := c.PacketForwarder.UDP
	if len(allow) > 0 || isLoopback(u.Bind) {
		return
	}
	path := "packetForwarder.udp.bind"
	if ch.has(p, false) {
		path = p
	}
	ch.warn(path, "allow is empty and %s is not loopback: any host that can reach this port can send frames and PULL_DATA (and so receive downlinks); list the packet forwarders' addresses, e.g. allow: [\"192.168.1.0/24\"]", u.Bind)
}

// MinTokenLength is the shortest api.token accepted (the API's own
// api.MinTokenLength, which a test keeps equal).
const MinTokenLength = 16

func checkToken(ch *checker, p string, v any, c *Config) {
	token := v.(string)
	if token == "" && !isLoopback(c.API.Bind) {
		ch.warn("api.bind", "the API on %s is reachable from the network and api.token is empty: anyone who reaches it can change where uplinks go; set api.token", c.API.Bind)
	}
	if token != "" && len(token) < MinTokenLength {
		// Its length only: the token is a secret.
		ch.problem(p, "token is %d characters; use at least %d, random (e.g. the output of: openssl rand -hex 16)", len(token), MinTokenLength)
	}
}
