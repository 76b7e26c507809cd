package main_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// edgeflowCfg has comments and an empty upstream list, so that a detach
// gives it back byte for byte. Port 1700 is only written, never bound.
const edgeflowCfg = `# Site A, installed by J.
gateway:
  id: "AA555A0000000101"   # from the label
packetForwarder:
  udp:
    bind: "127.0.0.1:1700"
    upstreams: []    # attach adds the network server here
connections:
  - {"name":"Actility To Cayenne","connectorId":"actility-http-iot","brand":"CAYENNE"}
`

func copyFile(t *testing.T, from, to string) []byte {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// attach, attach again, detach on the sx1301 and sx1302 examples: the
// forwarder is pointed at edgeflow with only its three server values
// changed, its network server becomes edgeflow's upstream (ports apart
// when they differ), a second attach changes nothing, and detach gives
// both files back byte for byte.
func TestForwarderAttachDetach(t *testing.T) {
	cases := []struct {
		file, server, upstream string
		up, down               string
	}{
		{"sx1301_global_conf.json", "eu1.cloud.thethings.network", "eu1.cloud.thethings.network:1700", "1700", "1700"},
		{"sx1302_global_conf.json", "10.0.0.5", "10.0.0.5:1780/1782", "1780", "1782"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			fwd := filepath.Join(dir, "global_conf.json")
			orig := copyFile(t, filepath.Join("..", "..", "packetfwd", "fwdconf", "testdata", c.file), fwd)
			cfg := filepath.Join(dir, "edgeflow.yaml")
			if err := os.WriteFile(cfg, []byte(edgeflowCfg), 0o600); err != nil {
				t.Fatal(err)
			}

			out, errs, code := testkit.RunCLI(t, "forwarder", "attach", "--forwarder-config", fwd, "--config", cfg)
			if code != 0 {
				t.Fatalf("attach: exit %d\n%s%s", code, out, errs)
			}
			for _, want := range []string{`added "` + c.upstream + `"`, `"` + c.server + `" -> "127.0.0.1"`, "serv_port_up " + c.up + " -> 1700",
				"serv_port_down " + c.down + " -> 1700", fwd + ".edgeflow-backup", "Restart the packet forwarder"} {
				if !strings.Contains(out, want) {
					t.Errorf("attach output lacks %q:\n%s", want, out)
				}
			}
			want := strings.Replace(string(orig), `"server_address": "`+c.server+`"`, `"server_address": "127.0.0.1"`, 1)
			want = strings.Replace(want, `"serv_port_up": `+c.up, `"serv_port_up": 1700`, 1)
			want = strings.Replace(want, `"serv_port_down": `+c.down, `"serv_port_down": 1700`, 1)
			if got := readString(t, fwd); got != want {
				t.Errorf("the forwarder's file changed beyond its server:\n%s", got)
			}
			if got := readString(t, fwd+".edgeflow-backup"); got != string(orig) {
				t.Error("the backup is not the original file")
			}
			wantCfg := strings.Replace(edgeflowCfg, "upstreams: []", `upstreams: ["`+c.upstream+`"]`, 1)
			if got := readString(t, cfg); got != wantCfg {
				t.Errorf("edgeflow's configuration:\n%s", got)
			}
			if out, errs, code := testkit.RunCLI(t, "config", "validate", "--config", cfg); code != 0 {
				t.Fatalf("the attached configuration does not validate:\n%s%s", out, errs)
			}

			// Again: nothing changes, and edgeflow is not its own upstream.
			before, beforeCfg := readString(t, fwd), readString(t, cfg)
			out, errs, code = testkit.RunCLI(t, "forwarder", "attach", "--forwarder-config", fwd, "--config", cfg)
			if code != 0 || !strings.Contains(out, "nothing changed") {
				t.Fatalf("second attach: exit %d\n%s%s", code, out, errs)
			}
			if readString(t, fwd) != before || readString(t, cfg) != beforeCfg || readString(t, fwd+".edgeflow-backup") != string(orig) {
				t.Fatal("a second attach changed a file")
			}

			out, errs, code = testkit.RunCLI(t, "forwarder", "detach", "--forwarder-config", fwd, "--config", cfg)
			if code != 0 || !strings.Contains(out, `removed "`+c.upstream+`"`) {
				t.Fatalf("detach: exit %d\n%s%s", code, out, errs)
			}
			if readString(t, fwd) != string(orig) {
				t.Errorf("detach did not restore the forwarder's file:\n%s", readString(t, fwd))
			}
			if readString(t, cfg) != edgeflowCfg {
				t.Errorf("detach did not restore edgeflow's configuration:\n%s", readString(t, cfg))
			}
		})
	}
}

// A local_conf.json that names the server wins over global_conf.json in
// lora_pkt_fwd: attaching global_conf.json would do nothing, so it is
// refused, nothing written; attaching local_conf.json works, and an
// edgeflow configuration that does not exist yet is created (the
// commented default, with the upstream).
func TestForwarderAttachLocalConf(t *testing.T) {
	dir := t.TempDir()
	global := filepath.Join(dir, "global_conf.json")
	copyFile(t, filepath.Join("..", "..", "packetfwd", "fwdconf", "testdata", "sx1301_global_conf.json"), global)
	local := filepath.Join(dir, "local_conf.json")
	localText := "{\n  \"gateway_conf\": {\n    \"gateway_ID\": \"0016C001FF10A235\",\n    // the site's server\n    \"server_address\": \"ns.example.net\"\n  }\n}\n"
	if err := os.WriteFile(local, []byte(localText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "etc", "edgeflow.yaml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errs, code := testkit.RunCLI(t, "forwarder", "attach", "--forwarder-config", global, "--config", cfg)
	if code != 1 || !strings.Contains(errs, "overrides global_conf.json") {
		t.Fatalf("attach of a shadowed global_conf.json: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(cfg); err == nil {
		t.Fatal("a refused attach wrote edgeflow's configuration")
	}

	out, errs, code = testkit.RunCLI(t, "forwarder", "attach", "--forwarder-config", local, "--config", cfg)
	if code != 0 {
		t.Fatalf("attach: exit %d\n%s%s", code, out, errs)
	}
	// The ports local_conf.json leaves out are lora_pkt_fwd's defaults,
	// so the upstream keeps them, and the file gets edgeflow's.
	if c := readString(t, cfg); !strings.Contains(c, `upstreams: ["ns.example.net:1780/1782"]`) || !strings.Contains(c, "# ") {
		t.Errorf("edgeflow's configuration:\n%s", readString(t, cfg))
	}
	got := readString(t, local)
	for _, want := range []string{`"serv_port_up": 1700,`, `"serv_port_down": 1700,`, `"server_address": "127.0.0.1"`, "// the site's server"} {
		if !strings.Contains(got, want) {
			t.Errorf("local_conf.json lacks %s:\n%s", want, got)
		}
	}
	if out, errs, code := testkit.RunCLI(t, "config", "validate", "--config", cfg); code != 0 {
		t.Fatalf("the created configuration does not validate:\n%s%s", out, errs)
	}
}

// freeUDPPort is a port nothing listens on right now: attach needs
// edgeflow's listener to have a fixed port, and a test must not pick one.
func freeUDPPort(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, p, _ := net.SplitHostPort(c.LocalAddr().String())
	return p
}

func listenUDP(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// After attach, a forwarder that sends where its file now says feeds
// edgeflow (Cayenne gets the uplink) and its network server at once: the
// server, whose up and down ports differ, gets PUSH_DATA on its up port
// and PULL_DATA on its down port.
func TestForwarderAttachFeedsBoth(t *testing.T) {
	nsUp, nsDown := listenUDP(t), listenUDP(t)
	_, upPort, _ := net.SplitHostPort(nsUp.LocalAddr().String())
	_, downPort, _ := net.SplitHostPort(nsDown.LocalAddr().String())
	dir := t.TempDir()
	fwd := filepath.Join(dir, "global_conf.json")
	orig := string(copyFile(t, filepath.Join("..", "..", "packetfwd", "fwdconf", "testdata", "sx1302_global_conf.json"), fwd))
	orig = strings.Replace(orig, `"10.0.0.5"`, `"127.0.0.1"`, 1)
	orig = strings.Replace(orig, `"serv_port_up": 1780`, `"serv_port_up": `+upPort, 1)
	orig = strings.Replace(orig, `"serv_port_down": 1782`, `"serv_port_down": `+downPort, 1)
	if err := os.WriteFile(fwd, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDevice(1)
	ep := testkit.NewSink(t)
	cfg := filepath.Join(dir, "edgeflow.yaml")
	text := strings.Replace(configText(ep.URL, "on-outage", d), `bind: "127.0.0.1:0"`, `bind: "127.0.0.1:`+freeUDPPort(t)+`"`, 1)
	text = strings.ReplaceAll(text, "$DIR", dir)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := testkit.RunCLI(t, "forwarder", "attach", "--forwarder-config", fwd, "--config", cfg); code != 0 {
		t.Fatalf("attach: exit %d\n%s%s", code, out, errs)
	}
	ag := testkit.StartAgentFile(t, cfg)

	// The forwarder reads its file: the server it names now is edgeflow.
	var conf struct {
		G struct {
			Addr string `json:"server_address"`
			Up   int    `json:"serv_port_up"`
		} `json:"gateway_conf"`
	}
	text2 := readString(t, fwd)
	clean := regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`).ReplaceAllString(text2, "")
	if err := json.Unmarshal([]byte(clean), &conf); err != nil {
		t.Fatal(err)
	}
	if got := net.JoinHostPort(conf.G.Addr, strconv.Itoa(conf.G.Up)); got != ag.UDP {
		t.Fatalf("the forwarder sends to %s, edgeflow listens on %s", got, ag.UDP)
	}
	fw := newForwarder(t, ag.UDP)
	fw.Pull(2)
	fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 1, port(2), []byte{0x03, 0x67, 0x00, 0xED}), -70, 9, ""))
	ep.WaitUplinks(t, 1)
	buf := make([]byte, 2048)
	for _, c := range []struct {
		conn *net.UDPConn
		typ  byte
		what string
	}{{nsDown, 0x02, "PULL_DATA on the down port"}, {nsUp, 0x00, "PUSH_DATA on the up port"}} {
		_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := c.conn.ReadFromUDP(buf)
		if err != nil || n < 4 || buf[3] != c.typ {
			t.Fatalf("the network server got no %s: % x %v", c.what, buf[:n], err)
		}
	}
}
