package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// URL is where the connection delivers: its destinationURL, or the one its
// brand prescribes when it gives none.
func (c Connection) URL() string {
	if c.Configuration.DestinationURL != "" {
		return c.Configuration.DestinationURL
	}
	return BrandURL(c.Brand)
}

// Complete fills in what follows from other fields: a brand's connector and
// URL, connection ids, the MQTT topic. Parse and Default call it; callers
// that build or change a Config in code call it before Validate. It is
// idempotent.
func (c *Config) Complete() {
	for i := range c.Connections {
		cn := &c.Connections[i]
		if b, ok := LookupBrand(cn.Brand); ok {
			if cn.ConnectorID == "" {
				cn.ConnectorID = b.ConnectorID
			}
			if cn.Configuration.DestinationURL == "" && !b.URLIsPrefix {
				cn.Configuration.DestinationURL = b.URL
			}
		}
	}
	AssignIDs(c.Connections)
	if m := c.PacketForwarder.MQTT; m != nil && len(m.Topics) == 0 {
		m.Topics = []string{DefaultMQTTTopic}
	}
	c.Gateway.ID = strings.ToUpper(c.Gateway.ID)
}

// AssignIDs gives each connection without an id one derived from its name
// ("Actility To Cayenne" → "actility-to-cayenne"), so the id, which names
// the connection's queue in the buffer and its URL in the API, stays the
// same across reloads and when other connections are added, removed or
// reordered. Renaming a connection changes a derived id; give "id" in the
// file to pin it. Clashes get "-2", "-3"… in file order.
func AssignIDs(conns []Connection) {
	taken := map[string]bool{}
	for _, c := range conns {
		if c.ID != "" {
			taken[c.ID] = true
		}
	}
	for i := range conns {
		if conns[i].ID != "" {
			continue
		}
		base := slug(conns[i].Name)
		id := base
		for n := 2; taken[id]; n++ {
			id = base + "-" + strconv.Itoa(n)
		}
		taken[id] = true
		conns[i].ID = id
	}
}

// slug keeps ASCII letters and digits of name, lower-cased, with single
// dashes between words: safe in a URL path and a bbolt bucket name.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 48 {
				break
			}
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "connection"
	}
	return b.String()
}

// validID is what an id may contain: it appears in /connections/{id}.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '~') {
			return false
		}
	}
	return true
}

func (c *Config) checkConnections(ch *checker) {
	if len(c.Connections) == 0 {
		ch.warn("connections", "there are no connections: uplinks are decoded but delivered nowhere")
	}
	names := map[string]int{}
	ids := map[string]int{}
	for i, cn := range c.Connections {
		p := index("connections", i)
		if ch.broken[p] {
			continue
		}
		if !validID(cn.ID) {
			ch.problem(p+".id", "id %q may only hold letters, digits, '-', '_', '.' and '~' (at most 64); it is part of the API's URLs", cn.ID)
		} else if j, dup := ids[cn.ID]; dup {
			ch.problem(p+".id", "id %q is used twice: %s and %s", cn.ID, ch.where(index("connections", j)), ch.where(p))
		} else {
			ids[cn.ID] = i
		}
		if strings.TrimSpace(cn.Name) == "" {
			ch.problem(p+".name", "name is required; it names the connection in logs and in the API")
		} else if j, dup := names[cn.Name]; dup {
			ch.problem(p+".name", "connection name %q is used twice: %s and %s; give each connection its own name", cn.Name, ch.where(index("connections", j)+".name"), ch.where(p+".name"))
		} else {
			names[cn.Name] = i
		}
		if !checkConnector(ch, p+".connectorId", cn.ConnectorID) {
			continue
		}
		checkCommonConfiguration(ch, p+".configuration", cn.Configuration)
		switch cn.ConnectorID {
		case ConnectorHTTP:
			checkHTTPConnection(ch, p, cn)
		case ConnectorMQTT:
			checkMQTTConnection(ch, p, cn)
		}
	}
}

// checkConnector reports whether edgeflow implements the connector, so
// that its parameters are worth checking.
func checkConnector(ch *checker, path, id string) bool {
	switch {
	case slices.Contains(Connectors(), id):
		return true
	case id == "":
		ch.problem(path, "connectorId is required; edgeflow has: %s", strings.Join(Connectors(), ", "))
	case slices.Contains(iotFlowConnectors(), id):
		ch.problem(path, "connectorId %q is an IoT Flow connector edgeflow does not implement; edgeflow has: %s", id, strings.Join(Connectors(), ", "))
	default:
		msg := fmt.Sprintf("unknown connectorId %q", id)
		if s := suggest(id, append(Connectors(), iotFlowConnectors()...)); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		ch.problem(path, "%s (edgeflow has: %s)", msg, strings.Join(Connectors(), ", "))
	}
	return false
}

func checkHTTPConnection(ch *checker, p string, cn Connection) {
	cfg := cn.Configuration
	cp := p + ".configuration"
	up := cp + ".destinationURL"
	brand, ok := checkBrand(ch, p, cn)
	if !ok && cfg.DestinationURL == "" {
		return // the brand's URL is the one missing; one message is enough
	}
	u := cn.URL()
	switch {
	case u == "" && brand.URL != "":
		ch.problem(up, "destinationURL is required for brand %s; it starts with %s", brand.Name, brand.URL)
	case u == "":
		ch.problem(up, "destinationURL is required: the https:// address the uplinks are posted to")
	default:
		if msg := checkURL(u); msg != "" {
			ch.problem(up, "%s", msg)
		} else if brand.URL != "" && !brand.URLIsPrefix && !strings.EqualFold(u, brand.URL) {
			ch.warn(up, "brand %s prescribes %s; using %s instead (fine for a test bench or a proxy)", brand.Name, brand.URL, RedactURL(u))
		} else if brand.URLIsPrefix && !strings.HasPrefix(strings.ToLower(u), strings.ToLower(brand.URL)) {
			ch.warn(up, "brand %s expects a URL starting with %s; using %s", brand.Name, brand.URL, RedactURL(u))
		} else if brand.URLIsPrefix && strings.HasSuffix(brand.URL, "=") && strings.EqualFold(u, brand.URL) {
			ch.problem(up, "destinationURL ends in %q: add the key %s gave you", brand.URL[strings.LastIndexAny(brand.URL, "?&")+1:], strings.ToLower(brand.Name))
		}
	}
	if cfg.CAFile != "" {
		if !filepath.IsAbs(cfg.CAFile) {
			ch.problem(cp+".caFile", "caFile must be an absolute path, e.g. /etc/edgeflow/ca.pem; got %q", clip(cfg.CAFile))
		} else if _, err := LoadCAFile(cfg.CAFile); err != nil {
			ch.problem(cp+".caFile", "%v", err)
		}
	}
	if px := cfg.Proxy; px != nil {
		switch {
		case px.Hostname == "":
			ch.problem(cp+".proxy.hostname", "hostname is required: the proxy as host:port, e.g. \"proxy.lan:3128\"")
		case px.URL() == nil || (px.URL().Scheme != "http" && px.URL().Scheme != "https" && px.URL().Scheme != "socks5"):
			ch.problem(cp+".proxy.hostname", "%q is not a proxy address; write host:port or http://host:port", clip(redactLoose(px.Hostname)))
		}
	}
	if brand.Header != "" {
		if _, ok := cfg.Headers[brand.Header]; !ok {
			ch.warn(cp+".headers", "brand %s needs header %q (see its integration page); it is not set", brand.Name, brand.Header)
		}
	}
	for k, v := range cfg.Headers {
		hp := cp + ".headers." + k
		if !validHeaderName(k) {
			ch.problem(hp, "header name %q may not hold spaces, colons or quotes", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			ch.problem(hp, "header %q must be on one line", k)
		}
	}
	checkHeaderPatterns(ch, cp+".headers", cfg.Headers)
	checkLRC(ch, cp, cfg)
}

// checkCommonConfiguration checks IoT Flow's common parameters.
func checkCommonConfiguration(ch *checker, cp string, cfg ConnectionConfiguration) {
	if d := cfg.UplinkTimeValidity; d < 0 || d == 0 && ch.has(cp+".uplinkTimeValidity", false) {
		ch.problem(cp+".uplinkTimeValidity", "uplinkTimeValidity must be more than 0 (leave it out to deliver uplinks however old)")
	}
	if s := cfg.ReconnectStrategy; s != "" && !slices.Contains(ReconnectStrategies(), s) {
		ch.problem(cp+".reconnectStrategy", "%s", oneOf("reconnectStrategy", s, ReconnectStrategies()))
	}
	if strings.ContainsAny(cfg.CustomerID, "\"\\\r\n") {
		ch.problem(cp+".customerId", "customerId may not hold quotes, backslashes or line breaks; ThingPark's are digits")
	}
}

// checkBrand checks the connection's brand against its connector. No
// brand is a plain connection; ok is false when the brand is wrong.
func checkBrand(ch *checker, p string, cn Connection) (Brand, bool) {
	if cn.Brand == "" {
		return Brand{}, true
	}
	b, ok := LookupBrand(cn.Brand)
	switch {
	case !ok:
		ch.problem(p+".brand", "%s; leave brand out for a plain connection", oneOf("brand", cn.Brand, brandNames()))
		return Brand{}, false
	case b.ConnectorID != cn.ConnectorID:
		ch.problem(p+".brand", "brand %s runs on connector %s, not %s", b.Name, b.ConnectorID, cn.ConnectorID)
		return Brand{}, false
	}
	return b, true
}

// checkHeaderPatterns checks the pattern expressions in header values. The
// message names the header, never its value: values carry credentials.
func checkHeaderPatterns(ch *checker, hp string, headers map[string]string) {
	for k, v := range headers {
		if msg := checkPattern(v); msg != "" {
			ch.problem(hp+"."+k, "header %q: %s", k, msg)
		}
	}
}

// PatternFields are the expressions header values and topic patterns may
// hold; uplink/connector expands them (connector.PatternFields, kept the
// same by a test there).
func PatternFields() []string { return []string{"DevEUI", "DevAddr", "FPort", "FCntUp"} }

// checkPattern explains what is wrong with a pattern, or returns "". An
// unknown name is shown only when it looks like a name, since a header
// value may be a secret.
func checkPattern(s string) string {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "a { without its }; patterns are written {DevEUI}"
		}
		name := s[i+1 : i+j]
		if !slices.Contains(PatternFields(), name) {
			known := "{" + strings.Join(PatternFields(), "}, {") + "}"
			switch {
			case strings.HasPrefix(name, "$"):
				return "JsonPath patterns are not supported (edgeflow has no CustomerData); known: " + known
			case len(name) <= 24 && validID(name):
				msg := fmt.Sprintf("unknown pattern {%s}", name)
				if sug := suggest(name, PatternFields()); sug != "" {
					msg += fmt.Sprintf("; did you mean {%s}?", sug)
				}
				return msg + "; known: " + known
			default:
				return "unknown pattern; known: " + known
			}
		}
		s = s[i+j+1:]
	}
}

// checkLRC checks Basic HTTP compliance: the key, and keys given without
// it (which would do nothing).
func checkLRC(ch *checker, cp string, cfg ConnectionConfiguration) {
	kp := cp + ".tunnelInterfaceAuthenticationKey"
	if k := cfg.TunnelInterfaceAuthenticationKey; k != "" {
		if _, err := hex.DecodeString(k); err != nil || len(k) != 32 {
			// The key is a secret: say what it looks like, not what it is.
			ch.problem(kp, "tunnelInterfaceAuthenticationKey must be 32 hex digits (the TIAK set in ThingPark); got %d characters", len(k))
		}
	}
	if cfg.LRCCompliance {
		return
	}
	for k, v := range map[string]string{"tunnelInterfaceAuthenticationKey": cfg.TunnelInterfaceAuthenticationKey, "asId": cfg.ASID, "lrnInfos": cfg.LrnInfos} {
		if ch.has(cp+"."+k, v != "") {
			ch.warn(cp+"."+k, "%s is used only with lrcCompliance: true; it is ignored", k)
		}
	}
}

// checkURL explains what keeps s from being an http(s) URL, or returns "".
func checkURL(s string) string {
	shown := clip(redactLoose(s)) // messages quote it; what they are about is not its credentials
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Sprintf("destinationURL %q contains spaces", shown)
	}
	if fixed := schemeFix(s); fixed != "" && !strings.Contains(s, "://") {
		return fmt.Sprintf("destinationURL %q: the scheme is mistyped; write %s", clip(s), clip(fixed))
	}
	if !strings.Contains(s, "://") {
		return fmt.Sprintf("destinationURL %q has no scheme; write https://%s", shown, shown)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("destinationURL %q is not a valid URL", shown)
	}
	if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" {
		return fmt.Sprintf("destinationURL must start with https:// or http://, not %s://", u.Scheme)
	}
	if u.Host == "" || strings.ContainsAny(u.Host, "{}…") {
		return fmt.Sprintf("destinationURL %q has no host name", shown)
	}
	return ""
}

// validHeaderName follows RFC 9110's token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
