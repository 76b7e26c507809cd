package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func newConns() []Connection {
	no := false
	return []Connection{
		DefaultConnection(),
		{ID: "bench", Name: "Bench & proxy", ConnectorID: ConnectorHTTP, Active: &no,
			Configuration: ConnectionConfiguration{DestinationURL: "https://proxy.example.net/a?x=1&y=2",
				Headers: map[string]string{"Authorization": "Bearer t"}, UplinkTimeValidity: Duration(72 * 3600e9)}},
	}
}

func copyFile(t *testing.T, from string, mode os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "edgeflow.yaml")
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSaveConnectionsKeepsTheRest(t *testing.T) {
	p := copyFile(t, "testdata/valid/commented.yaml", 0o640)
	before, _ := os.ReadFile(p)
	if err := SaveConnections(p, newConns()); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	b, a := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
	// Lines 1-8 (up to the connections key) and from the commented-out
	// connection on are the technician's and stay byte for byte.
	if !reflect.DeepEqual(a[:8], b[:8]) {
		t.Errorf("head changed:\n%s", strings.Join(a[:8], "\n"))
	}
	if !reflect.DeepEqual(a[len(a)-9:], b[len(b)-9:]) {
		t.Errorf("tail changed:\n%s", strings.Join(a[len(a)-9:], "\n"))
	}
	if a[8] != "connections:   # managed by the API too" {
		t.Errorf("key line: %q", a[8])
	}
	if a[9] != "  # the Cayenne dashboard" || !strings.HasPrefix(a[10], `  - {"id":"actility-to-cayenne","name":"Actility To Cayenne"`) || !strings.Contains(a[11], `x=1&y=2`) {
		t.Errorf("connections:\n%s", strings.Join(a[8:12], "\n"))
	}
	c, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Connections: newConns()}
	want.Complete()
	if !reflect.DeepEqual(c.Connections, want.Connections) {
		t.Errorf("read back %+v\nwant %+v", c.Connections, want.Connections)
	}
	if len(c.Devices) != 1 || c.Buffer.Persist != PersistAlways {
		t.Errorf("other sections lost: %+v", c)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A second save with the same list changes nothing.
	if err := SaveConnections(p, c.Connections); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p); string(again) != string(after) {
		t.Errorf("saving the same connections changed the file:\n%s", again)
	}
}

func TestSaveConnectionsShapes(t *testing.T) {
	tests := []struct {
		name, src, want string
		conns           []Connection
	}{
		{"no key: appended", "log:\n  level: debug", "log:\n  level: debug\nconnections:\n  - {\"id\":\"a\",\"name\":\"a\",\"connectorId\":\"actility-http-iot\",\"brand\":\"CAYENNE\",\"configuration\":{}}\n",
			[]Connection{{ID: "a", Name: "a", ConnectorID: ConnectorHTTP, Brand: BrandCayenne}}},
		{"empty list", "connections:\n  - {\"name\":\"a\",\"brand\":\"CAYENNE\"}\nlog:\n  level: debug\n", "connections: []\nlog:\n  level: debug\n", nil},
		{"flow list, unindented items, CRLF", "connections: [{\"name\":\"a\",\"brand\":\"CAYENNE\"}]\r\napi:\r\n  bind: 127.0.0.1:8090\r\n",
			"connections:\r\n  - {\"id\":\"b\",\"name\":\"b\",\"connectorId\":\"actility-http-iot\",\"brand\":\"CAYENNE\",\"configuration\":{}}\r\napi:\r\n  bind: 127.0.0.1:8090\r\n",
			[]Connection{{ID: "b", Name: "b", ConnectorID: ConnectorHTTP, Brand: BrandCayenne}}},
		{"items at column 1", "connections:\n- {\"name\":\"a\",\"brand\":\"CAYENNE\"}\n# trailing\n",
			"connections:\n- {\"id\":\"b\",\"name\":\"b\",\"connectorId\":\"actility-http-iot\",\"brand\":\"CAYENNE\",\"configuration\":{}}\n# trailing\n",
			[]Connection{{ID: "b", Name: "b", ConnectorID: ConnectorHTTP, Brand: BrandCayenne}}},
		{"sections with a margin", "  log:\n    level: debug\n", "  log:\n    level: debug\n  connections: []\n", nil},
		{"empty file", "", "connections: []\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "e.yaml")
			os.WriteFile(p, []byte(tt.src), 0o644)
			if err := SaveConnections(p, tt.conns); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestSaveConnectionsNewFileAndSymlink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new.yaml")
	if err := SaveConnections(p, newConns()); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600 (headers may hold tokens)", fi.Mode().Perm())
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(p, link); err != nil {
		t.Skip(err)
	}
	if err := SaveConnections(link, newConns()[:1]); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
	c, _, err := Load(p)
	if err != nil || len(c.Connections) != 1 {
		t.Errorf("target not rewritten: %v %v", c, err)
	}
}

func TestSaveConnectionsRefusesBrokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "e.yaml")
	src := "log:\n  level: info\n bad: indent\n"
	os.WriteFile(p, []byte(src), 0o644)
	if err := SaveConnections(p, newConns()); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != src {
		t.Error("a file that could not be parsed was changed")
	}
}

// YAML breaks lines at a lone CR and at NEL, LS and PS too; the rewrite
// counts lines at LF, so such a file is refused, untouched, with the line.
func TestSaveRefusesOddLineBreaks(t *testing.T) {
	for _, src := range []string{
		"connections:\n- {\"name\":\"a\",\"configuration\":{\"destinationURL\":http://x\r}}\ndevices: []\n",
		"log:\n  level: info\u2028\n",
	} {
		p := filepath.Join(t.TempDir(), "e.yaml")
		os.WriteFile(p, []byte(src), 0o644)
		if err := SaveConnections(p, newConns()); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: err = %v", src, err)
		}
		if err := SaveUpstreams(p, []string{"a:1700"}); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: upstreams: err = %v", src, err)
		}
		if got, _ := os.ReadFile(p); string(got) != src {
			t.Errorf("%q was changed", src)
		}
	}
}

func TestSaveConnectionsOddValues(t *testing.T) {
	for _, src := range []string{"connections:\nlog:\n  level: info\n", "connections: [] # none yet\n", "connections: {\"name\": \"x\"}\n"} {
		p := filepath.Join(t.TempDir(), "e.yaml")
		os.WriteFile(p, []byte(src), 0o644)
		if err := SaveConnections(p, newConns()[:1]); err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		c, _, err := Load(p)
		if err != nil || len(c.Connections) != 1 {
			got, _ := os.ReadFile(p)
			t.Errorf("%q: %v\n%s", src, err, got)
		}
	}
}
