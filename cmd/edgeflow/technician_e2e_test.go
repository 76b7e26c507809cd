package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// getJSON GETs an API path of a running agent into out.
func getJSON(t testing.TB, apiAddr, path string, out any) {
	t.Helper()
	resp, err := http.Get("http://" + apiAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestRejectedDevicesNamed: a device configured with a wrong key, one whose
// counter went back, and an address nobody configured are named in the
// log (upper-case EUIs), GET /devices, GET /devices/unknown, /status and
// `edgeflow status`, each with what to check.
func TestRejectedDevicesNamed(t *testing.T) {
	good, wrongKey, unknown := newDevice(1), newDevice(2), newDevice(9)
	configured := wrongKey
	configured.nwkSKey[0] ^= 0xff // the technician typed one byte wrong
	ep := testkit.NewSink(t)
	text := configText(ep.URL, "on-outage", good) + strings.ReplaceAll(configured.yaml(), "devEUI:", "name: \"tank\"\n    devEUI:")
	ag := testkit.StartAgent(t, text)
	fw := newForwarder(t, ag.UDP)
	up := lorawan.UnconfirmedDataUp
	fw.Push(2,
		newRxpk(good.frame(t, up, 10, port(1), []byte{1}), -60, 7, ""),
		newRxpk(wrongKey.frame(t, up, 1, port(1), []byte{1}), -70, 7, ""),
		newRxpk(unknown.frame(t, up, 1, port(1), []byte{1}), -95, 2, ""),
	)
	fw.Push(2,
		newRxpk(good.frame(t, up, 4, port(1), []byte{2}), -60, 7, ""), // counter back
		newRxpk(wrongKey.frame(t, up, 2, port(1), []byte{1}), -70, 7, ""),
		newRxpk(unknown.frame(t, up, 2, port(1), []byte{1}), -88, 2, ""),
	)
	ep.WaitUplinks(t, 1)

	var devs []struct {
		DevEUI        string `json:"devEUI"`
		LastRejection *struct {
			Reason string `json:"reason"`
			Hint   string `json:"hint"`
			Count  int    `json:"count"`
		} `json:"lastRejection"`
	}
	getJSON(t, ag.API, "/devices", &devs)
	if len(devs) != 2 || devs[0].LastRejection == nil || devs[1].LastRejection == nil {
		t.Fatalf("/devices: %+v", devs)
	}
	if r := devs[0].LastRejection; r.Reason != "fcnt_replay" || r.Count != 1 || !strings.Contains(r.Hint, "relaxFCnt") {
		t.Errorf("replayed device: %+v", r)
	}
	if r := devs[1].LastRejection; r.Reason != "mic_failure" || r.Count != 2 || r.Hint != "check nwkSKey/devAddr (or the OTAA join was not seen)" {
		t.Errorf("wrong-key device: %+v", r)
	}
	var unk []struct {
		DevAddr  string  `json:"devAddr"`
		Count    int     `json:"count"`
		BestRSSI float64 `json:"bestRSSI"`
		Gateway  string  `json:"gatewayEUI"`
	}
	getJSON(t, ag.API, "/devices/unknown", &unk)
	if len(unk) != 1 || unk[0].DevAddr != "260B0009" || unk[0].Count != 2 || unk[0].BestRSSI != -88 || unk[0].Gateway != "AA555A0000000101" {
		t.Errorf("/devices/unknown: %+v", unk)
	}
	var st struct {
		UnknownDevAddrs []map[string]any `json:"unknownDevAddrs"`
		Devices         []map[string]any `json:"devices"`
	}
	getJSON(t, ag.API, "/status", &st)
	if len(st.UnknownDevAddrs) != 1 || st.Devices[1]["lastRejection"] == nil {
		t.Errorf("/status: %+v", st)
	}

	// A live view opened now gets the uplink from before, and its delivery.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ag.API+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var replay []string
	for sc.Scan() && len(replay) < 2 {
		if l := sc.Text(); strings.HasPrefix(l, "data: ") {
			replay = append(replay, l)
		}
	}
	resp.Body.Close()
	if len(replay) != 2 || !strings.Contains(replay[0], `"devEUI":"70B3D57ED0000001","devAddr":"260B0001","fCnt":10`) ||
		!strings.Contains(replay[1], `"connection":"Actility To Cayenne"`) || !strings.Contains(replay[1], `"ok":true`) {
		t.Errorf("/events at connect: %q", replay)
	}

	out, errOut, code := testkit.RunCLI(t, "status", "--api", ag.API)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"70B3D57ED0000002 (tank): MIC failure", "2 since its last good uplink: check nwkSKey/devAddr (or the OTAA join was not seen)",
		"70B3D57ED0000001: frame counter went back", "the device restarted its counter (see relaxFCnt) or a frame was replayed",
		"unknown devAddrs heard", "260B0009", "-88", "AA555A0000000101",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)

	log := ag.Log()
	// One WARN per device (the second frame of the wrong-key device is
	// within its ten minutes), with the EUIs as ThingPark prints them.
	if n := len(regexp.MustCompile(`msg="Frame of a configured device rejected".* dev_eui=70B3D57ED0000002`).FindAllString(log, -1)); n != 1 {
		t.Errorf("%d WARN lines for the wrong-key device, want 1:\n%s", n, log)
	}
	if !strings.Contains(log, `dev_eui=70B3D57ED0000001 dev_addr=260B0001 reason=fcnt_replay hint=`) {
		t.Errorf("no WARN for the replay:\n%s", log)
	}
	if regexp.MustCompile(`(dev_eui|gateway_eui|dev_addr)=[0-9A-F]*[a-f]`).MatchString(log) {
		t.Errorf("a lower-case EUI in the log:\n%s", log)
	}
}

// TestReloadOutcomeShown: a file edited into an invalid state is refused,
// and /status and `edgeflow status` say so with its problems; the fix is
// applied, and said so, too. `edgeflow status` still finds the agent
// while the file is invalid.
func TestReloadOutcomeShown(t *testing.T) {
	ep := testkit.NewSink(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	text := strings.ReplaceAll(configText(ep.URL, "on-outage", newDevice(1)), "$DIR", dir)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.StartAgentFile(t, cfgPath)
	// The API address is fixed in the file now (the agent chose a port), so
	// that `edgeflow status --config` reads it from the broken file.
	text = strings.Replace(text, `bind: "127.0.0.1:0"`+"\nbuffer", `bind: "`+ag.API+`"`+"\nbuffer", 1)
	broken := strings.Replace(text, "persist:", "persits:", 1)
	if err := os.WriteFile(cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.Signal(t, syscall.SIGHUP)
	type reload struct {
		OK       bool     `json:"ok"`
		Trigger  string   `json:"trigger"`
		Problems []string `json:"problems"`
	}
	var st struct {
		LastReload *reload `json:"lastReload"`
	}
	waitReload := func(ok bool) {
		t.Helper()
		testkit.WaitUntil(t, fmt.Sprintf("a reload with ok=%v in /status", ok), func() bool {
			st.LastReload = nil
			getJSON(t, ag.API, "/status", &st)
			return st.LastReload != nil && st.LastReload.OK == ok
		})
	}
	waitReload(false)
	if len(st.LastReload.Problems) == 0 || !strings.Contains(st.LastReload.Problems[0], "persits") {
		t.Errorf("problems: %+v", st.LastReload)
	}
	out, errOut, code := testkit.RunCLI(t, "status", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("status with an invalid file: exit %d:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "is not valid") || !strings.Contains(errOut, "asking the agent at "+ag.API) {
		t.Errorf("status did not warn:\n%s", errOut)
	}
	if !strings.Contains(out, "last reload") || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "persits") {
		t.Errorf("status does not show the refused reload:\n%s", out)
	}
	if !strings.Contains(ag.Log(), `level=ERROR msg="configuration problem"`) {
		t.Errorf("the problem is not in the log:\n%s", ag.Log())
	}

	// The fix, by editing the file (no signal): applied, and said so.
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	waitReload(true)
	if st.LastReload.Trigger != "file changed" {
		t.Errorf("trigger %q", st.LastReload.Trigger)
	}
	if out, _, _ := testkit.RunCLI(t, "status", "--config", cfgPath); !strings.Contains(out, "(file changed): ok") {
		t.Errorf("status after the fix:\n%s", out)
	}
}

// TestServiceWatchesFile: under `service run` a changed file is applied
// without a signal, as under `run`.
func TestServiceWatchesFile(t *testing.T) {
	ep := testkit.NewSink(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	text := strings.ReplaceAll(configText(ep.URL, "on-outage"), "$DIR", dir)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.RunAgent(t, "service", "run", "--config", cfgPath, "--log", "stderr", "--allow-root")
	apiAddr := ag.API
	// The first line after start tells where the page is, and, with no
	// device configured, what to do next.
	started := regexp.MustCompile(`msg="edgeflow started".*`).FindString(ag.Log())
	if !strings.Contains(started, "page=http://"+apiAddr+"/") || !strings.Contains(started, `next="no device is configured`) || !strings.Contains(started, cfgPath+" (it is reloaded when saved)") {
		t.Errorf("start line: %s", started)
	}
	if err := os.WriteFile(cfgPath, []byte(text+newDevice(3).yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, "the changed file applied", func() bool {
		var devs []map[string]any
		getJSON(t, apiAddr, "/devices", &devs)
		return len(devs) == 1
	})
}

// TestValidateHints: what `edgeflow config validate` says about the files
// technicians really produce, through the built binary.
func TestValidateHints(t *testing.T) {
	var gz strings.Builder
	gz.WriteString("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\t\x01\x02log: x\n")
	conn := func(url string) string {
		return `connections:
  - {"name":"A","connectorId":"actility-http-iot","configuration":{"destinationURL":"` + url + `"}}
` + newDevice(1).yaml()
	}
	devices := "devices:\n" + newDevice(1).yaml()
	tests := []struct {
		name, text string
		code       int
		want       []string
		not        []string
	}{
		{"gzip", gz.String(), 1, []string{"this is not a text file: it is gzip-compressed"}, []string{"tab", "nothing was started"}},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00\tlog:\n", 1, []string{"this is not a text file (binary data)"}, []string{"tab"}},
		{"control character", "log:\n  level: info\x01\n" + devices, 1, []string{"control character U+0001"}, []string{"tab"}},
		{"tab", "log:\n\tlevel: info\n", 1, []string{"indent with spaces; YAML does not allow tabs"}, nil},
		{"scheme typo", conn("https//lora.mydevices.com/v1/networks/actility/uplink"), 1,
			[]string{"write https://lora.mydevices.com/v1/networks/actility/uplink"}, []string{"https://https"}},
		{"scheme typo, one slash", conn("https:/lora.mydevices.com/x"), 1, []string{"write https://lora.mydevices.com/x"}, nil},
		{"no scheme", conn("lora.mydevices.com/x"), 1, []string{"write https://lora.mydevices.com/x"}, nil},
		{"trailing NBSP", "log:\n  level: info\u00a0\n" + devices, 1, []string{`"info\u00a0"`, `\u00a0 is a non-breaking space`}, nil},
		{"NBSP after quotes", "api:\n  bind: \"127.0.0.1:8090\"\u00a0\n" + devices, 1, []string{"non-breaking space (U+00A0)"}, nil},
		{"empty", "", 0, []string{"warning:", "the file is empty", "no device is configured", "is valid"}, nil},
		{"no device", "log:\n  level: info\n", 0, []string{"warning:", "no device is configured", "is valid"}, nil},
		{"invalid", "log:\n  levle: info\n" + devices, 1, []string{`unknown key "levle"`, "is not valid (1 problem); fix the lines above and validate again"}, []string{"nothing was started"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edgeflow.yaml")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := testkit.RunCLI(t, "config", "validate", "--config", path)
			all := out + errOut
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(all, n) {
					t.Errorf("output has %q:\n%s", n, all)
				}
			}
		})
	}
	// run still says what its refusal means.
	path := filepath.Join(t.TempDir(), "edgeflow.yaml")
	if err := os.WriteFile(path, []byte("log:\n  levle: info\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := testkit.RunCLI(t, "run", "--config", path); code != 1 || !strings.Contains(errOut, "nothing was started") {
		t.Errorf("run: exit %d:\n%s", code, errOut)
	}
}

// TestPastedConnections: a connection as IoT Flow's API answers it, and
// edgeflow's own GET /connections/{id} answer, go into the file and into
// POST and PUT with one warning each.
func TestPastedConnections(t *testing.T) {
	ep := testkit.NewSink(t)
	iotflow := `{"id":"1114","name":"Actility To Cayenne","connectorId":"actility-http-iot","brand":"CAYENNE","active":true,` +
		`"state":"OPENED","startupTime":"2026-11-20T10:00:00Z","createdBy":"jdoe","creationTime":"2026-11-20T09:59:00Z",` +
		`"lastUpdatedBy":"jdoe","lastUpdateTime":"2026-11-21T08:00:00Z","subscriberId":"100001234",` +
		`"configuration":{"destinationURL":"` + ep.URL + `"}}`
	dir := t.TempDir()
	path := filepath.Join(dir, "edgeflow.yaml")
	text := "packetForwarder:\n  udp:\n    bind: \"127.0.0.1:0\"\napi:\n  bind: \"127.0.0.1:0\"\nbuffer:\n  path: \"" + dir + "/buffer.db\"\nconnections:\n  - " + iotflow + "\ndevices:\n" + newDevice(1).yaml()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := testkit.RunCLI(t, "config", "validate", "--config", path)
	if code != 0 || strings.Count(errOut, "warning:") != 2 || !strings.Contains(errOut, "read-only keys of a GET answer are ignored") ||
		!strings.Contains(errOut, "createdBy") {
		// two: the read-only keys, and CAYENNE pointed at the stand-in
		t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
	}
	ag := testkit.StartAgentFile(t, path)

	// edgeflow's own answer, sent back as it is: PUT and, renamed, POST.
	resp, err := http.Get("http://" + ag.API + "/connections/1114")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got["state"] == nil || got["deadLetters"] == nil {
		t.Fatalf("GET answer %v", got)
	}
	send := func(method, url string, body map[string]any, want int) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, url, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ws := resp.Header.Values("X-Edgeflow-Warning")
		readOnly := 0
		for _, w := range ws {
			if strings.Contains(w, "read-only keys of a GET answer are ignored") {
				readOnly++
			}
		}
		if resp.StatusCode != want || readOnly != 1 {
			t.Errorf("%s %s: %s, warnings %q", method, url, resp.Status, ws)
		}
	}
	send("PUT", "http://"+ag.API+"/connections/1114", got, http.StatusOK)
	delete(got, "id")
	got["name"] = "Copy"
	send("POST", "http://"+ag.API+"/connections", got, http.StatusCreated)
}
