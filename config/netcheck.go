package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// checkBind checks a listen address. Port 0 (any free port) is allowed for
// tests; a service should name its port.
func checkBind(ch *checker, path, s, example string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		ch.problem(path, "%s %q is not host:port; write e.g. %q (or \":%s\" for every interface)", last(path), clip(s), example, example[strings.LastIndexByte(example, ':')+1:])
		return
	}
	if msg := checkPort(port, 0); msg != "" {
		ch.problem(path, "%s %q: %s", last(path), clip(s), msg)
	}
	if !validHost(host) {
		ch.problem(path, "%s %q: %q is not an IP address or host name", last(path), clip(s), clip(host))
	}
}

// checkHostPort checks an address to send to.
func checkHostPort(ch *checker, path, s, example string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		ch.problem(path, "%q is not host:port; write e.g. %q", clip(s), example)
		return
	}
	if msg := checkPort(port, 1); msg != "" {
		ch.problem(path, "%q: %s", clip(s), msg)
	}
	if host == "" || !validHost(host) {
		ch.problem(path, "%q: %q is not an IP address or host name", clip(s), clip(host))
	}
}

func checkPort(port string, lowest int) string {
	n, err := strconv.Atoi(port)
	if err != nil || n < lowest || n > 65535 {
		return fmt.Sprintf("the port must be a number from %d to 65535", lowest)
	}
	return ""
}

// validHost accepts "", an IP address or a DNS name; it does not resolve,
// since a gateway may boot before its network is up.
func validHost(h string) bool {
	if h == "" || net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func isLoopback(bind string) bool {
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return true // reported as a problem already
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// mqttSchemes are what the paho client dials.
func mqttSchemes() []string { return []string{"tcp", "ssl", "tls", "mqtt", "mqtts", "ws", "wss"} }

// checkMQTTServer checks packetForwarder.mqtt.server, which may carry
// user:password@ (never shown).
func checkMQTTServer(ch *checker, p string, v any, _ *Config) {
	server := v.(string)
	shown := redactLoose(server)
	switch u, err := url.Parse(server); {
	case server == "":
		ch.problem(p, "server is required when mqtt is given, e.g. \"tcp://127.0.0.1:1883\"")
	case !strings.Contains(server, "://"):
		ch.problem(p, "server %q has no scheme; write e.g. \"tcp://%s\"", clip(shown), clip(shown))
	case err != nil || u.Host == "":
		ch.problem(p, "server %q is not a broker URL; write e.g. \"tcp://127.0.0.1:1883\"", clip(shown))
	case !contains(mqttSchemes(), strings.ToLower(u.Scheme)):
		ch.problem(p, "%s", oneOf("server scheme", u.Scheme, mqttSchemes()))
	}
}
