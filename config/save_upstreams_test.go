package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceUpstreams(t *testing.T) {
	ups := []string{"eu1.cloud.thethings.network:1700", "10.0.0.5:1780/1782"}
	const list = `["eu1.cloud.thethings.network:1700", "10.0.0.5:1780/1782"]`
	cases := []struct{ name, in, want string }{
		{"empty file", "", "packetForwarder:\n  udp:\n    upstreams: " + list + "\n"},
		{"no section", "# site A\napi:\n  bind: \"127.0.0.1:8090\"\n",
			"# site A\napi:\n  bind: \"127.0.0.1:8090\"\npacketForwarder:\n  udp:\n    upstreams: " + list + "\n"},
		{"no udp", "packetForwarder:\n    mqtt:\n        server: \"tcp://127.0.0.1:1883\"\napi: {}\n",
			"packetForwarder:\n    udp:\n      upstreams: " + list + "\n    mqtt:\n        server: \"tcp://127.0.0.1:1883\"\napi: {}\n"},
		{"no key", "packetForwarder:\n  udp:   # the forwarder\n    bind: \"127.0.0.1:1700\"\n",
			"packetForwarder:\n  udp:   # the forwarder\n    upstreams: " + list + "\n    bind: \"127.0.0.1:1700\"\n"},
		{"empty udp", "packetForwarder:\n  udp:\nbuffer: {}\n",
			"packetForwarder:\n  udp:\n    upstreams: " + list + "\nbuffer: {}\n"},
		{"flow list", "packetForwarder:\n  udp:\n    upstreams: []   # none yet\n    bind: \"127.0.0.1:1700\"\n",
			"packetForwarder:\n  udp:\n    upstreams: " + list + "   # none yet\n    bind: \"127.0.0.1:1700\"\n"},
		{"block list, last key", "packetForwarder:\n  udp:\n    upstreams:\n      - old:1700\n      # - other:1700\n\n# devices\ndevices: []\n",
			"packetForwarder:\n  udp:\n    upstreams: " + list + "\n      # - other:1700\n\n# devices\ndevices: []\n"},
		{"sections with a margin", " api: {}\n",
			" api: {}\n packetForwarder:\n   udp:\n     upstreams: " + list + "\n"},
		{"crlf", "packetForwarder:\r\n  udp:\r\n    bind: \"127.0.0.1:1700\"\r\n",
			"packetForwarder:\r\n  udp:\r\n    upstreams: " + list + "\r\n    bind: \"127.0.0.1:1700\"\r\n"},
	}
	for _, c := range cases {
		out, err := replaceUpstreams([]byte(c.in), ups)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(out) != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, out, c.want)
			continue
		}
		if err := checkUpstreamsRewrite([]byte(c.in), out, ups); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := replaceUpstreams([]byte("packetForwarder: {udp: {bind: \":1700\"}}\n"), ups); err == nil {
		t.Error("a flow-style section was edited")
	}
}

// SaveUpstreams keeps every byte but the list, and an empty list reads
// back as none.
func TestSaveUpstreamsKeepsTheRest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "edgeflow.yaml")
	in := "# Site A, installed by J.\ngateway:\n  id: \"AA555A0000000101\"   # from the label\npacketForwarder:\n  udp:\n    bind: \"127.0.0.1:1700\"\n" +
		"connections:\n  - {\"name\":\"Actility To Cayenne\",\"connectorId\":\"actility-http-iot\",\"brand\":\"CAYENNE\"}\n"
	if err := os.WriteFile(p, []byte(in), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := SaveUpstreams(p, []string{"10.0.0.5:1780/1782"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := strings.Replace(in, "  udp:\n", "  udp:\n    upstreams: [\"10.0.0.5:1780/1782\"]\n", 1)
	if string(b) != want {
		t.Fatalf("got\n%s", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := SaveUpstreams(p, nil); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(p)
	if err != nil || len(c.PacketForwarder.UDP.Upstreams) != 0 || c.Gateway.ID != "AA555A0000000101" {
		t.Fatalf("%+v %v", c.PacketForwarder.UDP, err)
	}
}

func TestUpstreamSyntax(t *testing.T) {
	for s, want := range map[string][3]any{
		"h:1700": {"h", 1700, 1700}, "h:1780/1782": {"h", 1780, 1782}, "[::1]:1/2": {"::1", 1, 2},
	} {
		h, u, d, ok := SplitUpstream(s)
		if !ok || h != want[0] || u != want[1] || d != want[2] {
			t.Errorf("%s: %s %d %d %v", s, h, u, d, ok)
		}
		if JoinUpstream(h, u, d) != s {
			t.Errorf("JoinUpstream(%s) = %s", s, JoinUpstream(h, u, d))
		}
	}
	for _, s := range []string{"h", "h:0", "h:1/", "h:1/2/3", ":1700", "h:1700/70000"} {
		if _, _, _, ok := SplitUpstream(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
	udp := UDP{Bind: "127.0.0.1:1700"}
	for s, want := range map[string]bool{"127.0.0.1:1700": true, "localhost:1700": true, "[::1]:1680/1700": true,
		"127.0.0.1:1701": false, "eu1.cloud.thethings.network:1700": false} {
		if udp.IsSelf(s) != want {
			t.Errorf("IsSelf(%s) = %v", s, !want)
		}
	}
	_, _, err := Parse([]byte("packetForwarder:\n  udp:\n    bind: \"0.0.0.0:1700\"\n    upstreams: [\"localhost:1700\"]\n"), "")
	if err == nil || !strings.Contains(err.Error(), "own listener") {
		t.Errorf("a relay to itself: %v", err)
	}
}

// FuzzReplaceUpstreams: any file either is refused or gets a list that
// reads back, the rest of it reading as before.
func FuzzReplaceUpstreams(f *testing.F) {
	for _, s := range []string{"", "packetForwarder:\n  udp:\n    upstreams: []   # none\n", "packetForwarder:\n  udp:\n",
		"api: {}\n", "packetForwarder:\n  udp:\n    upstreams:\n      - a:1\n    bind: \":1700\"\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ups := []string{"ns.example.net:1700", "10.0.0.5:1780/1782"}
		out, err := replaceUpstreams(in, ups)
		if err != nil {
			return
		}
		if _, _, perr := Parse(in, ""); perr != nil {
			return // a broken file stays the technician's to fix
		}
		if err := checkUpstreamsRewrite(in, out, ups); err != nil {
			t.Fatalf("%q became %q: %v", in, out, err)
		}
	})
}
