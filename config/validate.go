package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/brocaar/lorawan"
)

// Validate checks a configuration built in code (the local API, tests) with
// the rules Parse applies to a file. Problems carry paths but no lines.
// Call Complete first when the configuration may leave derived fields out.
func (c *Config) Validate() error {
	_, err := c.Check()
	return err
}

// Check is Validate that also returns the warnings, for callers that log
// them.
func (c *Config) Check() ([]Warning, error) {
	ch := &checker{}
	c.check(ch)
	if len(ch.probs) > 0 {
		return ch.warns, &Error{Problems: ch.probs}
	}
	return ch.warns, nil
}

// checker collects problems found in a decoded Config. From a file it knows
// which keys were given and where; from code it knows neither.
type checker struct {
	probs []Problem
	warns []Warning
	given func(path string) bool            // nil: a field is given when it is not zero
	pos   func(path string) (line, col int) // nil: no positions
	// broken are paths the decoder found unreadable; nothing under them is
	// checked again.
	broken map[string]bool
}

func (ch *checker) at(path string) (int, int) {
	if ch.pos == nil {
		return 0, 0
	}
	return ch.pos(path)
}

func (ch *checker) problem(path, format string, args ...any) {
	l, c := ch.at(path)
	ch.probs = append(ch.probs, Problem{Line: l, Column: c, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) warn(path, format string, args ...any) {
	l, c := ch.at(path)
	ch.warns = append(ch.warns, Warning{Line: l, Column: c, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// has tells whether the field at path was set: given in the file, or not
// zero in code.
func (ch *checker) has(path string, nonzero bool) bool {
	if ch.given != nil {
		return ch.given(path)
	}
	return nonzero
}

// where names path with its line, for messages that point at two places.
func (ch *checker) where(path string) string {
	if l, _ := ch.at(path); l > 0 {
		return fmt.Sprintf("%s (line %d)", path, l)
	}
	return path
}

func (c *Config) check(ch *checker) {
	c.checkGateway(ch)
	checkBind(ch, "packetForwarder.udp.bind", c.PacketForwarder.UDP.Bind, DefaultUDPBind)
	for i, u := range c.PacketForwarder.UDP.Upstreams {
		checkUpstream(ch, index("packetForwarder.udp.upstreams", i), u, c.PacketForwarder.UDP)
	}
	for i, s := range c.PacketForwarder.UDP.Allow {
		if _, ok := parsePrefix(s); !ok {
			ch.problem(index("packetForwarder.udp.allow", i), "%q is not an IP address or a CIDR prefix such as 192.168.1.0/24", clip(s))
		}
	}
	for i, s := range c.PacketForwarder.UDP.GatewayEUIs {
		if _, msg := parseHex("gatewayEUIs", s, 8); msg != "" {
			ch.problem(index("packetForwarder.udp.gatewayEUIs", i), "%s", msg)
		}
	}
	c.checkAllow(ch)
	if c.PacketForwarder.UDP.RateLimit < -1 {
		ch.problem("packetForwarder.udp.rateLimit", "rateLimit must be positive, 0 for the default or -1 for no limit, got %d", c.PacketForwarder.UDP.RateLimit)
	}
	if m := c.PacketForwarder.MQTT; m != nil {
		checkMQTT(ch, m)
	}
	c.checkBuffer(ch)
	c.checkDelivery(ch)
	c.checkAPI(ch)
	if !slices.Contains(LogLevels(), c.Log.Level) {
		ch.problem("log.level", "%s", oneOf("log level", c.Log.Level, LogLevels()))
	}
	c.checkConnections(ch)
	c.checkDevices(ch)
}

// MinTokenLength is the shortest api.token accepted (the API's own
// api.MinTokenLength, which a test keeps equal).
const MinTokenLength = 16

func (c *Config) checkAPI(ch *checker) {
	a := c.API
	checkBind(ch, "api.bind", a.Bind, DefaultAPIBind)
	if a.Token == "" && !isLoopback(a.Bind) {
		ch.warn("api.bind", "the API on %s is reachable from the network and api.token is empty: anyone who reaches it can change where uplinks go; set api.token", a.Bind)
	}
	if a.Token != "" && len(a.Token) < MinTokenLength {
		// Its length only: the token is a secret.
		ch.problem("api.token", "token is %d characters; use at least %d, random (e.g. the output of: openssl rand -hex 16)", len(a.Token), MinTokenLength)
	}
	for i, h := range a.Hosts {
		if h == "" || strings.ContainsAny(h, ":/") || !validHost(h) {
			ch.problem(index("api.hosts", i), "%q is not a host name; give the name alone, without scheme or port (e.g. gateway.lan)", clip(h))
		}
	}
	if d := a.CAFileDir; d != "" && !filepath.IsAbs(d) {
		ch.problem("api.caFileDir", "caFileDir must be an absolute directory, e.g. /etc/edgeflow/ca; got %q", clip(d))
	}
}

// checkAllow warns when the UDP listener takes datagrams from anyone.
func (c *Config) checkAllow(ch *checker) {
	u := c.PacketForwarder.UDP
	if len(u.Allow) > 0 || isLoopback(u.Bind) {
		return
	}
	path := "packetForwarder.udp.bind"
	if ch.has("packetForwarder.udp.allow", false) {
		path = "packetForwarder.udp.allow"
	}
	ch.warn(path, "allow is empty and %s is not loopback: any host that can reach this port can send frames and PULL_DATA (and so receive downlinks); list the packet forwarders' addresses, e.g. allow: [\"192.168.1.0/24\"]", u.Bind)
}

func (c *Config) checkGateway(ch *checker) {
	g := c.Gateway
	if g.ID != "" {
		if _, msg := parseHex("id", g.ID, 8); msg != "" {
			ch.problem("gateway.id", "%s (the gateway EUI)", msg)
		}
	}
	if g.Latitude != nil && (*g.Latitude < -90 || *g.Latitude > 90) {
		ch.problem("gateway.latitude", "latitude must be between -90 and 90 degrees, got %g", *g.Latitude)
	}
	if g.Longitude != nil && (*g.Longitude < -180 || *g.Longitude > 180) {
		ch.problem("gateway.longitude", "longitude must be between -180 and 180 degrees, got %g", *g.Longitude)
	}
}

func (c *Config) checkBuffer(ch *checker) {
	b := c.Buffer
	if strings.TrimSpace(b.Path) == "" {
		ch.problem("buffer.path", "path is empty; leave the key out for the default or name a file on persistent storage")
	}
	if b.Persist != PersistOnOutage && b.Persist != PersistAlways {
		ch.problem("buffer.persist", "%s", oneOf("persist value", b.Persist, []string{PersistOnOutage, PersistAlways}))
	}
	if b.MaxSize < MinMaxSize {
		ch.problem("buffer.maxSize", "maxSize must be at least %s (%d bytes), got %d bytes", MinMaxSize, int64(MinMaxSize), int64(b.MaxSize))
	}
}

func (c *Config) checkDelivery(ch *checker) {
	dl := c.Delivery
	for _, f := range []struct {
		key string
		d   Duration
	}{{"retryMin", dl.RetryMin}, {"retryMax", dl.RetryMax}, {"spillAfter", dl.SpillAfter}, {"timeout", dl.Timeout}} {
		if f.d <= 0 {
			ch.problem("delivery."+f.key, "%s must be more than 0, got %s", f.key, f.d)
		}
	}
	if dl.RetryMin > dl.RetryMax && dl.RetryMax > 0 {
		ch.problem("delivery.retryMin", "retryMin (%s) must not be more than retryMax (%s)", dl.RetryMin, dl.RetryMax)
	}
	if dl.MergeWindow < 0 || dl.MergeWindow > Duration(10e9) {
		ch.problem("delivery.mergeWindow", "mergeWindow must be from 0 to 10s, got %s", dl.MergeWindow)
	}
	if dl.DrainRate <= 0 {
		ch.problem("delivery.drainRate", "drainRate must be at least 1 uplink per second, got %d", dl.DrainRate)
	}
	if dl.Concurrency < 1 || dl.Concurrency > 256 {
		ch.problem("delivery.concurrency", "concurrency must be from 1 to 256 requests, got %d", dl.Concurrency)
	}
}

func (c *Config) checkDevices(ch *checker) {
	var zeroEUI lorawan.EUI64
	var zeroKey lorawan.AES128Key
	var zeroAddr lorawan.DevAddr
	seen := map[lorawan.EUI64]int{}
	for i, d := range c.Devices {
		p := index("devices", i)
		if ch.broken[p] {
			continue
		}
		if !ch.has(p+".devEUI", d.DevEUI != zeroEUI) {
			ch.problem(p, "devEUI is required (16 hex digits, printed on the device's label)")
		} else if d.DevEUI != zeroEUI {
			if j, dup := seen[d.DevEUI]; dup {
				ch.problem(p+".devEUI", "devEUI %s is used twice: %s and %s; a device may be listed once", strings.ToUpper(d.DevEUI.String()), ch.where(index("devices", j)+".devEUI"), ch.where(p+".devEUI"))
			} else {
				seen[d.DevEUI] = i
			}
		}
		if d.PayloadFormat != "" && !slices.Contains(PayloadFormats(), d.PayloadFormat) {
			ch.problem(p+".payloadFormat", "%s", oneOf("payloadFormat", d.PayloadFormat, PayloadFormats()))
		}
		abp := []bool{
			ch.has(p+".devAddr", d.ABP || d.DevAddr != zeroAddr),
			ch.has(p+".nwkSKey", d.ABP || d.NwkSKey != zeroKey),
			ch.has(p+".appSKey", d.ABP || d.AppSKey != zeroKey),
		}
		otaa := []bool{
			// 0000000000000000 is a JoinEUI many LoRaWAN 1.0 devices use,
			// so in code an appKey is enough to say OTAA was meant.
			ch.has(p+".joinEUI", d.JoinEUI != zeroEUI || d.AppKey != zeroKey) || ch.has(p+".appEUI", false),
			ch.has(p+".appKey", d.AppKey != zeroKey),
		}
		nABP, nOTAA := count(abp), count(otaa)
		switch {
		case nABP == 0 && nOTAA == 0:
			ch.problem(p, "the device has neither an ABP session (devAddr, nwkSKey, appSKey) nor OTAA keys (joinEUI, appKey)")
		case nABP > 0 && nABP < 3:
			ch.problem(p, "partial ABP session: %s missing; ABP needs devAddr, nwkSKey and appSKey", missing(abp, "devAddr", "nwkSKey", "appSKey"))
		}
		if nOTAA == 1 {
			ch.problem(p, "partial OTAA keys: %s missing; OTAA needs joinEUI and appKey", missing(otaa, "joinEUI", "appKey"))
		}
		if ch.has(p+".nwkKey", d.NwkKey != zeroKey) && !otaa[1] {
			ch.problem(p+".nwkKey", "nwkKey (LoRaWAN 1.1) goes with appKey: give both, or leave nwkKey out for a LoRaWAN 1.0 device")
		}
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// missing names the keys whose flag is false: "appSKey is", "nwkSKey and
// appSKey are".
func missing(given []bool, names ...string) string {
	var out []string
	for i, g := range given {
		if !g {
			out = append(out, names[i])
		}
	}
	if len(out) == 1 {
		return out[0] + " is"
	}
	return strings.Join(out, " and ") + " are"
}
