package fwdconf

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServerOfExamples(t *testing.T) {
	cases := map[string]Server{
		"sx1301_global_conf.json": {"eu1.cloud.thethings.network", 1700, 1700},
		"sx1302_global_conf.json": {"10.0.0.5", 1780, 1782},
		"local_conf.json":         {},
	}
	for name, want := range cases {
		f, err := Parse(read(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := f.Server()
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, want)
		}
	}
}

// Setting the server changes the three values and not one other byte:
// the diff is exactly the old values against the new ones.
func TestSetServerKeepsEverythingElse(t *testing.T) {
	for _, name := range []string{"sx1301_global_conf.json", "sx1302_global_conf.json"} {
		in := read(t, name)
		f, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := f.Server()
		out, err := f.SetServer(Server{"127.0.0.1", 1700, 1700})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := strings.Replace(string(in), `"`+old.Address+`"`, `"127.0.0.1"`, 1)
		want = strings.Replace(want, `"serv_port_up": `+itoa(old.PortUp), `"serv_port_up": 1700`, 1)
		want = strings.Replace(want, `"serv_port_down": `+itoa(old.PortDown), `"serv_port_down": 1700`, 1)
		if string(out) != want {
			t.Errorf("%s: other bytes changed:\n%s", name, out)
		}
		// And back: the original, byte for byte.
		g, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := g.SetServer(old)
		if err != nil || !bytes.Equal(back, in) {
			t.Errorf("%s: setting the old server back does not give the original file (%v)", name, err)
		}
	}
}

// Keys a file leaves out are added at the top of gateway_conf, indented
// like its first key, with the file's line ends.
func TestSetServerAddsMissingKeys(t *testing.T) {
	f, err := Parse(read(t, "local_conf.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.SetServer(Server{"127.0.0.1", 1700, 1701})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\r\n\t\"gateway_conf\": {\r\n\t\t\"server_address\": \"127.0.0.1\",\r\n\t\t\"serv_port_up\": 1700,\r\n\t\t\"serv_port_down\": 1701,\r\n" +
		"\t\t\"gateway_ID\": \"0016C001FF10A235\" // from the label\r\n\t}\r\n}\r\n"
	if string(out) != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
	f, _ = Parse([]byte(`{"gateway_conf":{}}`))
	out, err = f.SetServer(Server{"h", 1, 2})
	if err != nil || string(out) != `{"gateway_conf":{ "server_address": "h", "serv_port_up": 1, "serv_port_down": 2 }}` {
		t.Fatalf("empty gateway_conf: %s, %v", out, err)
	}
}

func TestParseComments(t *testing.T) {
	in := `/* head */ {"gateway_conf": { // line
  "server_address": "a/*b*/c//d", /* "server_address": "x" */
  "serv_port_up": 1 }}`
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Server()
	if err != nil || s != (Server{Address: "a/*b*/c//d", PortUp: 1}) {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		`[1]`:                 "not a JSON object",
		`{"a": 1,}`:           "not valid JSON",
		`{"a": 1 /* open`:     "never closed",
		`{"gateway_conf": 3}`: "not an object",
		`{"gateway_conf": {}, "gateway_conf": {}}`:                 "appears twice",
		`{"gateway_conf": {"serv_port_up": 1, "serv_port_up": 2}}`: "appears twice",
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", in, err, want)
		}
	}
	f, _ := Parse([]byte(`{"gateway_conf": {"serv_port_up": 1.5}}`))
	if _, err := f.Server(); err == nil {
		t.Error("a fractional port was accepted")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzParse: any text either fails cleanly or parses; a parsed file with a
// gateway_conf takes a new server and reads it back.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"sx1301_global_conf.json", "sx1302_global_conf.json", "local_conf.json"} {
		f.Add(read(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fc, err := Parse(b)
		if err != nil || !fc.HasGatewayConf() {
			return
		}
		if _, err := fc.Server(); err != nil {
			return
		}
		out, err := fc.SetServer(Server{"127.0.0.1", 1700, 1700})
		if err != nil {
			t.Fatalf("SetServer on %q: %v", b, err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatal(err)
		}
	})
}
