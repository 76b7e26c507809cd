package config

import (
	"net"
	"strconv"
	"strings"
)

// SplitUpstream reads a packetForwarder.udp.upstreams entry: "host:port",
// or "host:up/down" for a network server that takes PUSH_DATA on one port
// and PULL_DATA on another (a forwarder's serv_port_up and serv_port_down).
// down is up when one port is given.
func SplitUpstream(s string) (host string, up, down int, ok bool) {
	host, ports, err := net.SplitHostPort(s)
	if err != nil || host == "" || !validHost(host) {
		return "", 0, 0, false
	}
	us, ds, two := strings.Cut(ports, "/")
	if !two {
		ds = us
	}
	u, err1 := strconv.Atoi(us)
	d, err2 := strconv.Atoi(ds)
	if err1 != nil || err2 != nil || u < 1 || u > 65535 || d < 1 || d > 65535 {
		return "", 0, 0, false
	}
	return host, u, d, true
}

// JoinUpstream writes an upstream entry: "host:port" when both ports are
// the same, "host:up/down" otherwise.
func JoinUpstream(host string, up, down int) string {
	s := net.JoinHostPort(host, strconv.Itoa(up))
	if down != up {
		s += "/" + strconv.Itoa(down)
	}
	return s
}

// IsSelf tells whether an upstream is this agent's own UDP listener: a
// relay to it would send every datagram back in a loop.
func (u UDP) IsSelf(upstream string) bool {
	host, up, down, ok := SplitUpstream(upstream)
	if !ok {
		return false
	}
	bhost, bport, err := net.SplitHostPort(u.Bind)
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(bport)
	if err != nil || (p != up && p != down) {
		return false
	}
	if strings.EqualFold(host, bhost) || isLoopbackHost(host) {
		return true
	}
	return false
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func checkUpstream(ch *checker, path, s string, udp UDP) {
	if _, _, _, ok := SplitUpstream(s); !ok {
		ch.problem(path, "%q is not host:port (or host:up/down when the network server's ports differ); write e.g. %q", clip(s), "eu1.cloud.thethings.network:1700")
		return
	}
	if udp.IsSelf(s) {
		ch.problem(path, "%q is edgeflow's own listener (packetForwarder.udp.bind %s): relaying to it would loop; name the network server instead", clip(s), udp.Bind)
	}
}
