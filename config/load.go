package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds what Load reads, so that a wrong --config (a log, a
// device node) fails with a message instead of eating a gateway's memory.
const MaxFileSize = 8 << 20

// Load reads and checks the configuration file at path. Relative paths in
// it (buffer.path, devicesFile, packetForwarder.mqtt.caFile) are taken from
// the file's directory, since a service's working directory is "/".
// Problems in the file come back as *Error; warnings are for the log.
func Load(path string) (*Config, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("config: %s is larger than %s; is it the configuration file?", path, ByteSize(MaxFileSize))
	}
	c, warns, err := Parse(data, path)
	if err != nil {
		return nil, warns, err
	}
	c.Path = path
	dir := filepath.Dir(path)
	c.Buffer.Path = relTo(dir, c.Buffer.Path)
	c.DevicesFile = relTo(dir, c.DevicesFile)
	if c.PacketForwarder.MQTT != nil {
		c.PacketForwarder.MQTT.CAFile = relTo(dir, c.PacketForwarder.MQTT.CAFile)
	}
	// The devices file is part of the configuration: read with it, so a
	// reload re-reads it and a bad line refuses the whole, as a bad YAML
	// line does.
	if err := c.addDevicesFile(); err != nil {
		return nil, warns, err
	}
	if len(c.Devices) == 0 {
		warns = append(warns, Warning{Path: "devices", Msg: "no device is configured: every uplink is dropped (counted as unknown_devaddr) until devices are listed under devices: or in a devicesFile"})
	}
	return c, warns, nil
}

func relTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Parse reads a configuration from data; name is the file name used in
// messages. What the file leaves out gets Default's value, then Complete
// fills derived fields (brand URLs, connection ids). Every problem found is
// in the returned *Error, in file order, and the Config is then nil.
// Warnings come back either way.
func Parse(data []byte, name string) (*Config, []Warning, error) {
	doc, perr := readYAML(data)
	if perr != nil {
		return nil, nil, &Error{File: name, Problems: []Problem{*perr}}
	}
	t := table(settings()) // built once: each setting is a few closures
	c := t.defaults(SystemDirs())
	rd := &reader{at: map[string]*yaml.Node{}, broken: map[string]bool{}, t: t, devKeys: deviceKeyTable()}
	empty := true
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root := resolve(doc.Content[0])
		if !isNull(root) {
			empty = false
			rd.config(root, c)
		}
	}
	rd.readOnlyWarning()
	if empty {
		rd.warns = append(rd.warns, Warning{Msg: "the file is empty (or holds only comments): every setting is the default; `edgeflow config init` prints a complete file to start from"})
	}
	c.Complete()
	ch := &checker{
		given:  func(p string) bool { return rd.at[p] != nil },
		pos:    rd.pos,
		broken: rd.broken,
	}
	c.checkWith(ch, t)
	probs := append(rd.probs, ch.probs...)
	warns := append(rd.warns, ch.warns...)
	for i := range probs {
		probs[i].Msg = nameInvisible(probs[i].Msg)
	}
	for i := range warns {
		warns[i].Msg = nameInvisible(warns[i].Msg)
	}
	sortProblems(probs)
	sortWarnings(warns)
	if len(probs) > 0 {
		return nil, warns, &Error{File: name, Problems: probs}
	}
	return c, warns, nil
}

// pos finds the position of path's value, or of the nearest enclosing one
// when the file leaves the key out (a default).
func (rd *reader) pos(path string) (line, col int) {
	for path != "" {
		if n := rd.at[path]; n != nil {
			return n.Line, n.Column
		}
		path = parent(path)
	}
	return 0, 0
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (rd *reader) config(n *yaml.Node, c *Config) {
	if n.Kind != yaml.MappingNode {
		rd.problem(n, "", "the file must be a mapping of sections (gateway:, packetForwarder:, buffer:, api:, log:, connections:, devices:), got %s", kindName(n))
		return
	}
	rd.walk(n, "", rd.t, c)
}

// set stores a text value, leaving dst alone when the value is not text.
func (rd *reader) set(v *yaml.Node, p string, dst *string) {
	if s, ok := rd.str(v, p); ok {
		*dst = s
	}
}

// duration stores a duration ("30s", "72h", "2d"), or reports why not.
func (rd *reader) duration(v *yaml.Node, p string, dst *Duration) {
	s, ok := rd.str(v, p)
	if !ok {
		return
	}
	x, err := ParseDuration(s)
	if err != nil {
		rd.problem(v, p, "%s %v", last(p), err)
		return
	}
	*dst = x
}

// integer stores a whole number of unit, or reports why not.
func (rd *reader) integer(v *yaml.Node, p, unit string, dst *int) {
	s, ok := rd.str(v, p)
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		rd.problem(v, p, "%s must be a whole number of %s, got %q", last(p), unit, clip(s))
		return
	}
	*dst = n
}

func (rd *reader) connection(n *yaml.Node, path string) Connection {
	var c Connection
	if n.Kind == yaml.ScalarNode && strings.HasPrefix(strings.TrimSpace(n.Value), "{") {
		rd.problem(n, path, "this connection is quoted text; remove the quotes around the {...} object so that it reads as one")
		rd.broken[path] = true
		return c
	}
	// The parameters known are the connector's own. A connector edgeflow
	// does not implement has none: each of its parameters reported unknown
	// would bury the one message that matters, that the connector itself
	// is not available.
	cfgKeys := configurationKeys(peek(n, "connectorId"), peek(n, "brand"))
	rd.fields(n, path, connectionKeys(), func(key string, v *yaml.Node, p string) {
		switch key {
		case "id":
			rd.set(v, p, &c.ID)
		case "name":
			rd.set(v, p, &c.Name)
		case "connectorId":
			rd.set(v, p, &c.ConnectorID)
		case "brand":
			rd.set(v, p, &c.Brand)
		case "active":
			if b, ok := rd.boolean(v, p); ok {
				c.Active = &b
			}
		case "configuration":
			if cfgKeys.known == nil {
				if v.Kind != yaml.MappingNode {
					rd.problem(v, p, "configuration must be a mapping (key: value lines), got %s", kindName(v))
				}
				return
			}
			rd.configuration(v, p, cfgKeys, &c.Configuration)
		}
	})
	return c
}

// configurationKeys are the configuration keys of a connection of
// connector id (or, when it gives none, of its brand's connector).
func configurationKeys(id, brand string) section {
	if id == "" {
		if b, ok := LookupBrand(brand); ok {
			id = b.ConnectorID
		}
	}
	switch id {
	case ConnectorMQTT:
		return mqttConfigurationKeys()
	case ConnectorHTTP, "":
		return httpConfigurationKeys()
	}
	return section{known: nil}
}

// peek returns the text value of key in mapping n, or "".
func peek(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := resolve(n.Content[i]), resolve(n.Content[i+1]); k.Value == key && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

func (rd *reader) configuration(n *yaml.Node, path string, s section, cc *ConnectionConfiguration) {
	rd.fields(n, path, s, func(key string, v *yaml.Node, p string) {
		switch key {
		case "destinationURL":
			rd.set(v, p, &cc.DestinationURL)
		case "description":
			rd.set(v, p, &cc.Description)
		case "reconnectStrategy":
			rd.set(v, p, &cc.ReconnectStrategy)
		case "customerId":
			rd.set(v, p, &cc.CustomerID)
		case "lrcCompliance":
			cc.LRCCompliance, _ = rd.boolean(v, p)
		case "tunnelInterfaceAuthenticationKey":
			rd.set(v, p, &cc.TunnelInterfaceAuthenticationKey)
		case "asId":
			rd.set(v, p, &cc.ASID)
		case "lrnInfos":
			rd.set(v, p, &cc.LrnInfos)
		case "hostName":
			rd.set(v, p, &cc.HostName)
		case "protocol":
			rd.set(v, p, &cc.Protocol)
		case "username":
			rd.set(v, p, &cc.Username)
		case "password":
			rd.set(v, p, &cc.Password)
		case "uplinkTopicPattern":
			rd.set(v, p, &cc.UplinkTopicPattern)
		case "trustedCaCertficate", "trustedCaCertificate":
			other := join(path, "trustedCaCertificate")
			if key == "trustedCaCertificate" {
				other = join(path, "trustedCaCertficate")
			}
			if rd.at[other] != nil {
				rd.problem(v, p, "trustedCaCertficate (IoT Flow's spelling) and trustedCaCertificate are the same key; give one")
				return
			}
			rd.set(v, p, &cc.TrustedCACertificate)
		case "certificate":
			rd.set(v, p, &cc.Certificate)
		case "privateKey":
			rd.set(v, p, &cc.PrivateKey)
		case "connectionTimeout":
			cc.ConnectionTimeout = rd.millis(v, p)
		case "actionTimeout":
			cc.ActionTimeout = rd.millis(v, p)
		case "uplinkTimeValidity":
			rd.duration(v, p, &cc.UplinkTimeValidity)
		case "caFile":
			rd.set(v, p, &cc.CAFile)
		case "proxy":
			px := &Proxy{}
			if rd.fields(v, p, proxyKeys(), func(key string, v *yaml.Node, p string) {
				switch key {
				case "hostname":
					rd.set(v, p, &px.Hostname)
				case "username":
					rd.set(v, p, &px.Username)
				case "password":
					rd.set(v, p, &px.Password)
				}
			}) {
				cc.Proxy = px
			}
		case "headers":
			if v.Kind != yaml.MappingNode {
				rd.problem(v, p, "headers must be a mapping of header names to values, e.g. {\"Authorization\": \"Token …\"}; got %s", kindName(v))
				return
			}
			cc.Headers = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, hv := resolve(v.Content[i]), resolve(v.Content[i+1])
				if k.Kind != yaml.ScalarNode {
					rd.problem(k, p, "a header name must be a plain name, got %s", kindName(k))
					continue
				}
				hp := join(p, k.Value)
				if _, dup := cc.Headers[k.Value]; dup {
					rd.problem(k, hp, "header %q is given twice; keep one", k.Value)
					continue
				}
				rd.at[hp] = hv
				if hv.Kind == yaml.ScalarNode && strings.Contains(hv.Value, maskText) {
					rd.masked(hv, hp)
					continue
				}
				val := ""
				if !isNull(hv) {
					val, _ = rd.str(hv, hp)
				}
				cc.Headers[k.Value] = val
			}
		}
	})
}

func (rd *reader) device(n *yaml.Node, path string) Device {
	var dev Device
	rd.fields(n, path, deviceKeysOf(rd.devKeys), func(key string, v *yaml.Node, p string) {
		for _, k := range rd.devKeys {
			if key != k.key && key != k.alias {
				continue
			}
			// Both given: said at the second, as the first is read already.
			if k.alias != "" && rd.at[join(path, k.key)] != nil && rd.at[join(path, k.alias)] != nil {
				rd.problem(v, p, "%s and %s are the same key (%s); give one", k.key, k.alias, k.aliasWhy)
				return
			}
			switch f := k.field(&dev).(type) {
			case []byte:
				rd.hexField(v, p, f)
			case *string:
				rd.set(v, p, f)
			case *bool:
				*f, _ = rd.boolean(v, p)
			}
			return
		}
	})
	dev.ABP = rd.at[join(path, "devAddr")] != nil && rd.at[join(path, "nwkSKey")] != nil && rd.at[join(path, "appSKey")] != nil
	return dev
}

// millis reads an IoT Flow timeout: whole milliseconds (5000), or a
// duration with its unit ("5s"), which is what a technician reading
// "timeout" may write. It returns 0 after reporting a problem.
func (rd *reader) millis(v *yaml.Node, p string) int {
	s, ok := rd.str(v, p)
	if !ok {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		if n <= 0 {
			rd.problem(v, p, "%s must be more than 0 milliseconds (leave it out for the default)", last(p))
			return 0
		}
		return n
	}
	dur, err := ParseDuration(s)
	if err != nil || dur <= 0 {
		rd.problem(v, p, "%s is in milliseconds, e.g. 5000 (or with a unit, \"5s\"); got %q", last(p), clip(s))
		return 0
	}
	return max(1, int(dur.Std().Milliseconds()))
}
