package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// Every secret a configuration can hold, planted where it can be: the
// password and user of a URL, an ?apikey=, header values, the LRC key, the
// MQTT source's and an MQTT connection's password, the API token.
const (
	plantURLUser    = "urluser7"
	plantURLPass    = "URLPASS-PLANTED"
	plantAPIKey     = "APIKEY-PLANTED"
	plantHeader     = "HEADER-PLANTED"
	plantLRCKey     = "5ec12e75ec12e75ec12e75ec12e75ec1"
	plantSourceUser = "srcuser7"
	plantSourcePass = "SOURCEPW-PLANTED"
	plantMQTTPass   = "MQTTCONNPW-PLANTED"
	plantToken      = "TOKEN-PLANTED-0123456789"
)

var (
	plantedEverywhere = []string{plantURLPass, plantAPIKey, plantHeader, plantLRCKey, plantSourcePass, plantMQTTPass, plantToken}
	// The user names are shown by the API (masking keeps them, so that a
	// client can edit the URL) but printed nowhere else.
	plantedUsers = []string{plantURLUser, plantSourceUser}
)

// downAddr is a 127.0.0.1 address nothing listens on.
func downAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func plantedConfig(t *testing.T, d device) string {
	down := downAddr(t) // refuses connections: every delivery fails, and says why
	return fmt.Sprintf(`packetForwarder:
  udp:
    bind: "127.0.0.1:0"
  mqtt:
    server: "tcp://%[6]s:%[7]s@%[1]s"
buffer:
  path: "$DIR/buffer.db"
delivery:
  retryMin: 100ms
  retryMax: 200ms
api:
  bind: "127.0.0.1:0"
  token: %[8]q
log:
  level: debug
connections:
  - {"name":"Bench","connectorId":"actility-http-iot","brand":"CAYENNE","configuration":{"destinationURL":"http://%[9]s:%[2]s@%[1]s/up?apikey=%[3]s&site=a","headers":{"X-Api-Key":%[4]q,"Authorization":"Bearer %[4]s"}}}
  - {"name":"LRC","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://%[1]s/lrc","lrcCompliance":true,"tunnelInterfaceAuthenticationKey":%[5]q}}
  - {"name":"Broker","connectorId":"actility-mqtt-iot","configuration":{"hostName":%[1]q,"protocol":"TCP","username":"u","password":%[10]q}}
devices:
%[11]s`, down, plantURLPass, plantAPIKey, plantHeader, plantLRCKey, plantSourceUser, plantSourcePass, plantToken, plantURLUser, plantMQTTPass, d.yaml())
}

func noPlanted(t *testing.T, where, text string, users bool) {
	t.Helper()
	for _, s := range plantedEverywhere {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the planted secret %s:\n%s", where, s, text)
		}
	}
	if users {
		for _, s := range plantedUsers {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the URL user %s:\n%s", where, s, text)
			}
		}
	}
}

func runBin(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(testkit.AgentBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	_ = cmd.Run() // some exit 1 (a failing connection, an invalid file): the output is what counts
	return out.String()
}

// TestNoSecretInAnyOutput plants a secret in every secret-bearing field and
// looks for it in everything the built binary prints or answers: config
// validate (valid and invalid files), the agent's log while deliveries
// and the MQTT source fail, every API answer and its headers, status and
// connections test.
func TestNoSecretInAnyOutput(t *testing.T) {
	d := newDevice(41)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(plantedConfig(t, d), "$DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}

	out := runBin(t, "config", "validate", "--config", cfgPath)
	if !strings.Contains(out, "is valid") || !strings.Contains(out, "brand CAYENNE prescribes") {
		t.Fatalf("config validate:\n%s", out)
	}
	noPlanted(t, "config validate", out, true)

	// An invalid file: problems quote what is wrong, without the secrets.
	bad := filepath.Join(dir, "bad.yaml")
	badText := fmt.Sprintf(`packetForwarder:
  mqtt:
    server: "%s:%s@127.0.0.1:1883"
api:
  token: "short"
connections:
  - {"name":"Bad","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://%s:%s@x.example/up?apikey=%s and more","tunnelInterfaceAuthenticationKey":"%s0"}}
`, plantSourceUser, plantSourcePass, plantURLUser, plantURLPass, plantAPIKey, plantLRCKey)
	if err := os.WriteFile(bad, []byte(badText), 0o600); err != nil {
		t.Fatal(err)
	}
	out = runBin(t, "config", "validate", "--config", bad)
	if !strings.Contains(out, "contains spaces") || !strings.Contains(out, "api.token") || !strings.Contains(out, "has no scheme") {
		t.Fatalf("config validate of an invalid file:\n%s", out)
	}
	noPlanted(t, "config validate (invalid file)", out, true)

	p := testkit.StartAgentFile(t, cfgPath)
	fw := newForwarder(t, p.UDP)
	fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte{1, 2, 3}), -50, 9, ""))

	api := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+p.API+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+plantToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var hdr strings.Builder
		_ = resp.Header.Write(&hdr)
		return resp, hdr.String() + "\n" + string(b)
	}
	// Let deliveries fail a few times and the MQTT source try its broker.
	testkit.WaitUntil(t, "a failed delivery and the MQTT source's first try", func() bool {
		_, st := api("GET", "/status", "")
		return strings.Contains(st, "UNREACHABLE") && strings.Contains(p.Log(), "MQTT")
	})
	for _, path := range []string{"/connections", "/connections/bench", "/connections/lrc", "/connections/broker", "/status", "/devices", "/metrics", "/connections/bench/deadletters"} {
		resp, out := api("GET", path, "")
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, out)
		}
		noPlanted(t, "GET "+path, out, false)
	}
	// A created connection's answer and warning headers; the warning is
	// the brand's, with the URL, so it must be redacted.
	resp, out := api("POST", "/connections", fmt.Sprintf(`{"name":"Second bench","connectorId":"actility-http-iot","brand":"CAYENNE","configuration":{"destinationURL":"http://%s:%s@127.0.0.1:1/x?apikey=%s","headers":{"Authorization":"Bearer %s"}}}`,
		plantURLUser, plantURLPass, plantAPIKey, plantHeader))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Edgeflow-Warning") == "" {
		t.Fatalf("POST: %d %s", resp.StatusCode, out)
	}
	noPlanted(t, "POST /connections", out, false)
	// A PUT to another host with the masks: refused, naming the fields.
	_, shown := api("GET", "/connections/bench", "")
	body := shown[strings.Index(shown, "\n\n")+2:]
	resp, out = api("PUT", "/connections/bench", strings.Replace(body, "@127.0.0.1:", "@127.0.0.2:", 1))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "configuration.headers.X-Api-Key") {
		t.Errorf("PUT to another host with masks: %d %s", resp.StatusCode, out)
	}
	noPlanted(t, "PUT /connections/bench", out, false)

	out = runBin(t, "status", "--config", cfgPath, "--api", p.API)
	if !strings.Contains(out, "Bench") {
		t.Errorf("status:\n%s", out)
	}
	noPlanted(t, "edgeflow status", out, true)
	for _, name := range []string{"Bench", "LRC", "Broker"} {
		out = runBin(t, "connections", "test", name, "--dev-eui", "70B3D57ED0000001", "--payload", "01", "--config", cfgPath)
		if !strings.Contains(out, "failed") && !strings.Contains(out, "refused") {
			t.Errorf("connections test %s:\n%s", name, out)
		}
		noPlanted(t, "connections test "+name, out, true)
	}

	p.Stop(t)
	log := p.Log()
	if !strings.Contains(log, "MQTT") || !strings.Contains(log, "connection failing") {
		t.Errorf("the log does not show the failures this test is about:\n%s", log)
	}
	noPlanted(t, "the agent's log", log, true)
}
