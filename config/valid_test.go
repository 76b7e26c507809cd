package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
)

func mustParse(t *testing.T, src string) (*Config, []Warning) {
	t.Helper()
	c, w, err := Parse([]byte(src), "edgeflow.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c, w
}

// TestDesignExample loads the example of the design brief and checks every
// field it sets, and that what it leaves out has its default.
func TestDesignExample(t *testing.T) {
	c, warns, err := Load("testdata/valid/design-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	want := Default()
	want.Path = "testdata/valid/design-example.yaml"
	want.Gateway.ID = "AA555A0000000101"
	want.PacketForwarder.UDP.Upstreams = []string{"eu1.cloud.thethings.network:1700"}
	want.PacketForwarder.MQTT = &MQTT{Server: "tcp://127.0.0.1:1883", Topics: []string{"gateway/+/event/up"}}
	want.Buffer.Path = "/var/lib/edgeflow/buffer.db"
	want.Devices = []Device{
		{
			DevEUI:  lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 1},
			DevAddr: lorawan.DevAddr{0x26, 0x0b, 0x00, 0x01},
			NwkSKey: lorawan.AES128Key{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c},
			AppSKey: lorawan.AES128Key{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
			ABP:     true,
		},
		{
			DevEUI:  lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 2},
			JoinEUI: lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 0},
			AppKey:  lorawan.AES128Key{0x8f, 0x3e, 0x2a, 0x1b, 0x0c, 0x9d, 0x8e, 0x7f, 0x6a, 0x5b, 0x4c, 0x3d, 0x2e, 0x1f, 0x0a, 0x9b},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%+v\nwant\n%+v", c, want)
	}
	if got := c.Connections[0]; got.ID != "actility-to-cayenne" || got.URL() != CayenneURL || !got.IsActive() {
		t.Errorf("connection: %+v", got)
	}
}

// TestTestBench covers the rest of the keys: block and multi-line flow
// connections, headers, durations, sizes, appEUI and relative paths.
func TestTestBench(t *testing.T) {
	c, warns, err := Load("testdata/valid/test-bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The bench listens on every interface with no allow list: that is
	// said, then the Cayenne URL.
	if len(warns) != 2 || warns[0].Path != "packetForwarder.udp.bind" || !strings.Contains(warns[0].Msg, "any host that can reach this port can send frames") ||
		warns[1].Path != "connections[0].configuration.destinationURL" || warns[1].Line != 18 ||
		!strings.Contains(warns[1].Msg, "fine for a test bench or a proxy") {
		t.Errorf("want a warning for the open UDP port and one for the bench's Cayenne URL, got %v", warns)
	}
	abs, _ := filepath.Abs("testdata/valid")
	_ = abs
	if c.Buffer.Path != filepath.Join("testdata/valid", "buffer.db") || c.DevicesFile != filepath.Join("testdata/valid", "devices.csv") {
		t.Errorf("relative paths not taken from the file's directory: %q %q", c.Buffer.Path, c.DevicesFile)
	}
	if c.Buffer.Persist != PersistAlways || c.Buffer.MaxSize != 256_000_000 || c.Log.Level != "debug" || c.PacketForwarder.UDP.Bind != ":1700" {
		t.Errorf("buffer/log/udp: %+v %+v %+v", c.Buffer, c.Log, c.PacketForwarder.UDP)
	}
	bench, proxy := c.Connections[0], c.Connections[1]
	if bench.ID != "bench-cayenne" || bench.URL() != "http://127.0.0.1:8080/uplink" || bench.ConnectorID != ConnectorHTTP {
		t.Errorf("bench: %+v", bench)
	}
	wantCfg := ConnectionConfiguration{
		DestinationURL:     "https://proxy.example.net/actility",
		Headers:            map[string]string{"Authorization": "Bearer abc", "X-Thing": "{DevEUI}"},
		UplinkTimeValidity: Duration(48 * time.Hour),
		ReconnectStrategy:  "CALM",
	}
	if proxy.ID != "proxy" || proxy.IsActive() || !reflect.DeepEqual(proxy.Configuration, wantCfg) {
		t.Errorf("proxy: %+v", proxy)
	}
	d := c.Devices[0]
	if d.ABP || d.JoinEUI != (lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 0}) || d.Name != "cold room" || d.AppKey[0] != 0x8f {
		t.Errorf("device: %+v", d)
	}
}

// TestValidExamples: every shipped valid example loads without a problem
// (chirpstack-mqtt-forwarder #48: a packaged example with a wrong key).
func TestValidExamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		if _, _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "---\n", "gateway:\n"} {
		c, _ := mustParse(t, src)
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("%q: got %+v, want the defaults", src, c)
		}
	}
}

func TestDefaultsFillWhatIsLeftOut(t *testing.T) {
	c, _ := mustParse(t, "buffer:\n  persist: always\ndevices: []\n")
	d := Default()
	if c.Buffer.Path != d.Buffer.Path || c.Buffer.MaxSize != DefaultMaxSize || c.API.Bind != DefaultAPIBind ||
		!reflect.DeepEqual(c.Connections, d.Connections) || c.Buffer.Persist != PersistAlways {
		t.Errorf("got %+v", c)
	}
	// An explicit empty list means no connections, with a warning.
	c, w := mustParse(t, "connections: []\n")
	if len(c.Connections) != 0 || len(w) != 1 || w[0].Path != "connections" {
		t.Errorf("connections: [] gave %v, warnings %v", c.Connections, w)
	}
}

func TestCayenneWithoutURL(t *testing.T) {
	c, w := mustParse(t, "connections:\n  - {\"name\":\"Cayenne\",\"brand\":\"CAYENNE\"}\n")
	cn := c.Connections[0]
	if cn.Configuration.DestinationURL != CayenneURL || cn.ConnectorID != ConnectorHTTP || len(w) != 0 {
		t.Errorf("got %+v, warnings %v", cn, w)
	}
}

func TestIgnoredIoTFlowKeysWarn(t *testing.T) {
	_, w := mustParse(t, "connections:\n  - {\"name\":\"c\",\"brand\":\"CAYENNE\",\"state\":\"OPENED\",\"configuration\":{\"sendMetadata\":true}}\n")
	if len(w) != 2 || w[0].Path != "connections[0]" || !strings.HasSuffix(w[0].Msg, ": state") || !strings.Contains(w[1].Msg, "sendMetadata is ignored") {
		t.Errorf("warnings: %v", w)
	}
}

func TestNonLoopbackAPIWithoutTokenWarns(t *testing.T) {
	_, w := mustParse(t, "api:\n  bind: 0.0.0.0:8090\n")
	if len(w) != 1 || w[0].Path != "api.bind" || w[0].Line != 2 {
		t.Errorf("warnings: %v", w)
	}
	_, w = mustParse(t, "api:\n  bind: 0.0.0.0:8090\n  token: s3cret-s3cret-s3cret\n")
	if len(w) != 0 {
		t.Errorf("warnings with a token: %v", w)
	}
}

func TestAPIKeys(t *testing.T) {
	c, _ := mustParse(t, "api:\n  hosts: [gateway.lan]\n  caFileDir: /etc/edgeflow/ca\n")
	if len(c.API.Hosts) != 1 || c.API.Hosts[0] != "gateway.lan" || c.API.CAFileDir != "/etc/edgeflow/ca" {
		t.Errorf("api: %+v", c.API)
	}
	for _, c := range []struct{ text, path, want string }{
		{"api:\n  token: s3cret\n", "api.token", "token is 6 characters; use at least 16"},
		{"api:\n  hosts: [\"http://gw.lan:8090\"]\n", "api.hosts[0]", "without scheme or port"},
		{"api:\n  caFileDir: ca\n", "api.caFileDir", "absolute"},
	} {
		_, _, err := Parse([]byte(c.text), "edgeflow.yaml")
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Path != c.path || !strings.Contains(ce.Problems[0].Msg, c.want) {
			t.Errorf("%q: %v; want %s: %s", c.text, err, c.path, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the message shows the token: %v", err)
		}
	}
}

func TestOpenUDPPortWarns(t *testing.T) {
	_, w := mustParse(t, "packetForwarder:\n  udp:\n    bind: \"0.0.0.0:1700\"\n    allow: []\n")
	if len(w) != 1 || w[0].Path != "packetForwarder.udp.allow" || !strings.Contains(w[0].Msg, "any host that can reach this port") {
		t.Errorf("warnings: %v", w)
	}
	_, w = mustParse(t, "packetForwarder:\n  udp:\n    bind: \"0.0.0.0:1700\"\n    allow: [192.168.1.0/24]\n")
	if len(w) != 0 {
		t.Errorf("warnings with an allow list: %v", w)
	}
}

func TestAssignIDsStable(t *testing.T) {
	conns := []Connection{{Name: "Actility To Cayenne"}, {Name: "actility to cayenne!"}, {ID: "actility-to-cayenne-2", Name: "x"}, {Name: "Ünïcode"}, {Name: "日本"}}
	AssignIDs(conns)
	var got []string
	for _, c := range conns {
		got = append(got, c.ID)
	}
	want := []string{"actility-to-cayenne", "actility-to-cayenne-3", "actility-to-cayenne-2", "n-code", "connection"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// Removing the first connection leaves the others' ids as they were.
	c1, _ := mustParse(t, "connections:\n  - {\"name\":\"A\",\"brand\":\"CAYENNE\"}\n  - {\"name\":\"B\",\"brand\":\"CAYENNE\"}\n")
	c2, _ := mustParse(t, "connections:\n  - {\"name\":\"B\",\"brand\":\"CAYENNE\"}\n")
	if c1.Connections[1].ID != "b" || c2.Connections[0].ID != "b" {
		t.Errorf("ids: %q %q", c1.Connections[1].ID, c2.Connections[0].ID)
	}
}

func TestValidateInCode(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	c := Default()
	c.Buffer.Persist = "sometimes"
	c.Connections = append(c.Connections, Connection{ID: "x", Name: DefaultConnectionName, ConnectorID: ConnectorHTTP,
		Configuration: ConnectionConfiguration{DestinationURL: "example.com"}})
	c.Devices = []Device{{DevEUI: lorawan.EUI64{1}, DevAddr: lorawan.DevAddr{1}, NwkSKey: lorawan.AES128Key{1}}}
	err := c.Validate()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate = %v", err)
	}
	want := []string{
		`buffer.persist: unknown persist value "sometimes" (known: on-outage, always)`,
		`connections[1].name: connection name "Actility To Cayenne" is used twice: connections[0].name and connections[1].name; give each connection its own name`,
		`connections[1].configuration.destinationURL: destinationURL "example.com" has no scheme; write https://example.com`,
		`devices[0]: partial ABP session: appSKey is missing; ABP needs devAddr, nwkSKey and appSKey`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

func TestBufferPathChooser(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	home := func() (string, error) { return "/home/tech", nil }
	tmp := func() string { return "/tmp" }
	only := func(ok ...string) func(string) bool {
		return func(dir string) bool {
			for _, o := range ok {
				if dir == o {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name string
		dirs Dirs
		want string
	}{
		{"service", Dirs{Getenv: env(nil), HomeDir: home, TempDir: tmp, Writable: only("/var/lib/edgeflow")}, "/var/lib/edgeflow/buffer.db"},
		{"XDG state", Dirs{Getenv: env(map[string]string{"XDG_STATE_HOME": "/home/tech/.state"}), HomeDir: home, TempDir: tmp,
			Writable: only("/home/tech/.state/edgeflow", "/home/tech/.local/state/edgeflow")}, "/home/tech/.state/edgeflow/buffer.db"},
		{"relative XDG ignored", Dirs{Getenv: env(map[string]string{"XDG_STATE_HOME": "state"}), HomeDir: home, TempDir: tmp,
			Writable: only("state/edgeflow", "/home/tech/.local/state/edgeflow")}, "/home/tech/.local/state/edgeflow/buffer.db"},
		{"nothing writable", Dirs{Getenv: env(nil), HomeDir: func() (string, error) { return "", errors.New("no home") }, TempDir: tmp,
			Writable: only()}, "/tmp/edgeflow/buffer.db"},
	}
	for _, tt := range tests {
		if got := tt.dirs.BufferPath(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
		if got := DefaultIn(tt.dirs).Buffer.Path; got != tt.want {
			t.Errorf("%s: DefaultIn gave %s", tt.name, got)
		}
	}
}

func TestWritableOrCreatable(t *testing.T) {
	dir := t.TempDir()
	if !writableOrCreatable(dir) || !writableOrCreatable(filepath.Join(dir, "a", "b")) {
		t.Error("a writable temp dir (or one below it) is not writable")
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("the check created a directory")
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if writableOrCreatable(filepath.Join(f, "sub")) {
		t.Error("a directory under a file counts as creatable")
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if writableOrCreatable(filepath.Join(ro, "edgeflow")) {
			t.Error("a directory under a read-only one counts as creatable")
		}
	}
}

func TestUnits(t *testing.T) {
	durs := map[string]time.Duration{"30s": 30 * time.Second, "2d": 48 * time.Hour, "1w": 168 * time.Hour, "1d12h": 36 * time.Hour, "1.5h": 90 * time.Minute, "0": 0}
	for in, want := range durs {
		if got, err := ParseDuration(in); err != nil || got.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5m", "5", "5 minutes", "h", "1e400h", "99999999999h"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	sizes := map[string]ByteSize{"64MiB": 64 * MiB, "256MB": 256_000_000, "1048576": MiB, "64 mib": 64 * MiB, "1GiB": GiB}
	for in, want := range sizes {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "64 megs", "0.5", "1e30", "-1MiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	if s := Duration(72 * time.Hour).String(); s != "72h" {
		t.Errorf("72h prints as %s", s)
	}
	if s := (64 * MiB).String(); s != "64MiB" {
		t.Errorf("64MiB prints as %s", s)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"destinationURL", "description", "headers", "uplinkTimeValidity", "reconnectStrategy"}
	for in, want := range map[string]string{
		"destinationUrl": "destinationURL", "destination_url": "destinationURL", "url": "destinationURL",
		"header": "headers", "uplinkTimeValidty": "uplinkTimeValidity", "zzz": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParsedConfigValidates: what a file gives, Validate accepts too,
// including a JoinEUI of zeros (common on LoRaWAN 1.0 devices).
func TestParsedConfigValidates(t *testing.T) {
	c, _ := mustParse(t, "devices:\n  - devEUI: 70B3D57ED0000001\n    joinEUI: \"0000000000000000\"\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n")
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for _, f := range []string{"testdata/valid/design-example.yaml", "testdata/valid/test-bench.yaml", "testdata/valid/commented.yaml"} {
		c, _, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
