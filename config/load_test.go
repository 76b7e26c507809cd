package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/broken/*.want from the current messages, and the settings section of docs/configuration.md from the table")

// problems parses src and returns its problems, failing the test when the
// file is accepted.
func problems(t *testing.T, src string) []Problem {
	t.Helper()
	_, _, err := Parse([]byte(src), "edgeflow.yaml")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse accepted the file (err %v):\n%s", err, src)
	}
	return e.Problems
}

// TestTechnicianMistakes holds the mistakes made in the field, each with the
// line, path and message the technician must see.
func TestTechnicianMistakes(t *testing.T) {
	cayenne := `{"name":"Actility To Cayenne","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://lora.mydevices.com/v1/networks/actility/uplink"},"brand":"CAYENNE"}`
	tests := []struct {
		name string
		src  string
		line int
		path string
		msg  string // a part of the message
	}{
		{"misspelt key in pasted JSON connection",
			"connections:\n  - " + strings.Replace(cayenne, "destinationURL", "destinationUrl", 1) + "\n",
			2, "connections[0].configuration.destinationUrl", `unknown key "destinationUrl"; did you mean "destinationURL"?`},
		{"misspelt connection key",
			"connections:\n  - " + strings.Replace(cayenne, "connectorId", "connectorID", 1) + "\n",
			2, "connections[0].connectorID", `did you mean "connectorId"?`},
		{"misspelt section",
			"packetforwarder:\n  udp:\n    bind: 127.0.0.1:1700\n",
			1, "packetforwarder", `unknown key "packetforwarder"; did you mean "packetForwarder"?`},
		{"chirpstack-style key",
			"packetForwarder:\n  udp:\n    udp_bind: 127.0.0.1:1700\n",
			3, "packetForwarder.udp.udp_bind", `did you mean "bind"?`},
		{"key at the wrong indentation",
			"buffer:\n  path: /data/buffer.db\npersist: always\n",
			3, "persist", `"persist" belongs under "buffer" (check the indentation)`},
		{"unknown key with nothing near",
			"api:\n  port: 8090\n",
			2, "api.port", "known keys here: bind, token"},
		{"key given twice",
			"log:\n  level: info\n  level: debug\n",
			3, "log.level", `"level" is given twice, here and on line 2`},
		{"YAML syntax error",
			"buffer:\n  path: /data/buffer.db\n persist: always\n",
			3, "", "YAML syntax error"},
		{"tab indentation",
			"log:\n\tlevel: info\n",
			2, "", "YAML does not allow tabs"},
		{"value with colon unquoted",
			"api:\n  token: abc: def\n",
			0, "", "must be in quotes"},
		{"string where a list belongs",
			"packetForwarder:\n  udp:\n    upstreams: eu1.cloud.thethings.network:1700\n",
			3, "packetForwarder.udp.upstreams", `upstreams must be a list; write upstreams: ["eu1.cloud.thethings.network:1700"]`},
		{"devices not a list",
			"devices:\n  devEUI: 70B3D57ED0000001\n",
			2, "devices", `start each device with "- "`},
		{"mapping where a value belongs",
			"api:\n  bind:\n    host: 127.0.0.1\n",
			3, "api.bind", "bind must be a single value, got a mapping"},
		{"short key",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    devAddr: 260B0001\n    nwkSKey: 2B7E151628AED2A6ABF7158809CF4F3\n    appSKey: 000102030405060708090A0B0C0D0E0F\n",
			4, "devices[0].nwkSKey", "nwkSKey must be 32 hex digits, got 31"},
		{"non-hex digit",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    devAddr: 26G00001\n    nwkSKey: 2B7E151628AED2A6ABF7158809CF4F3C\n    appSKey: 000102030405060708090A0B0C0D0E0F\n",
			3, "devices[0].devAddr", "devAddr has a non-hex digit 'G' at position 3"},
		{"0x prefix",
			"devices:\n  - devEUI: 0x70B3D57ED00001\n    joinEUI: 70B3D57ED0000000\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			2, "devices[0].devEUI", "non-hex digit 'x' at position 2 (leave out the 0x)"},
		{"separators",
			"devices:\n  - devEUI: \"70:B3:D5:7E:D0:00:00:01\"\n    joinEUI: 70B3D57ED0000000\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			2, "devices[0].devEUI", "without separators"},
		{"duplicate DevEUI names both lines",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    joinEUI: 70B3D57ED0000000\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n  - devEUI: 70b3d57ed0000001\n    joinEUI: 70B3D57ED0000000\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			5, "devices[1].devEUI", "devEUI 70B3D57ED0000001 is used twice: devices[0].devEUI (line 2) and devices[1].devEUI (line 5)"},
		{"neither ABP nor OTAA",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    name: pump\n",
			2, "devices[0]", "neither an ABP session (devAddr, nwkSKey, appSKey) nor OTAA keys (joinEUI, appKey)"},
		{"partial ABP",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    devAddr: 260B0001\n    nwkSKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			2, "devices[0]", "partial ABP session: appSKey is missing"},
		{"partial OTAA",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			2, "devices[0]", "partial OTAA keys: joinEUI is missing"},
		{"device without devEUI",
			"devices:\n  - joinEUI: 70B3D57ED0000000\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			2, "devices[0]", "devEUI is required"},
		{"joinEUI and appEUI",
			"devices:\n  - devEUI: 70B3D57ED0000001\n    joinEUI: 70B3D57ED0000000\n    appEUI: 70B3D57ED0000000\n    appKey: 2B7E151628AED2A6ABF7158809CF4F3C\n",
			4, "devices[0].appEUI", "joinEUI and appEUI are the same key"},
		{"URL without scheme",
			"connections:\n  - {\"name\":\"x\",\"connectorId\":\"actility-http-iot\",\"configuration\":{\"destinationURL\":\"lora.mydevices.com/v1\"}}\n",
			2, "connections[0].configuration.destinationURL", `has no scheme; write https://lora.mydevices.com/v1`},
		{"URL not http",
			"connections:\n  - name: x\n    connectorId: actility-http-iot\n    configuration:\n      destinationURL: ftp://example.com/up\n",
			5, "connections[0].configuration.destinationURL", "must start with https:// or http://, not ftp://"},
		{"HTTP connection without URL",
			"connections:\n  - name: x\n    connectorId: actility-http-iot\n",
			2, "connections[0].configuration.destinationURL", "destinationURL is required"},
		{"unknown connectorId",
			"connections:\n  - {\"name\":\"x\",\"connectorId\":\"actility-htpp-iot\",\"brand\":\"CAYENNE\"}\n",
			2, "connections[0].connectorId", `unknown connectorId "actility-htpp-iot"; did you mean "actility-http-iot"? (edgeflow has: actility-http-iot, actility-mqtt-iot)`},
		{"IoT Flow connector not implemented",
			"connections:\n  - {\"name\":\"x\",\"connectorId\":\"actility-kafka-iot\",\"configuration\":{\"hostName\":\"broker:8883\"}}\n",
			2, "connections[0].connectorId", `"actility-kafka-iot" is an IoT Flow connector edgeflow does not implement`},
		{"missing connectorId",
			"connections:\n  - {\"name\":\"x\",\"configuration\":{\"destinationURL\":\"https://example.com\"}}\n",
			2, "connections[0].connectorId", "connectorId is required"},
		{"unknown brand",
			"connections:\n  - {\"name\":\"x\",\"connectorId\":\"actility-http-iot\",\"brand\":\"Cayenne\"}\n",
			2, "connections[0].brand", `unknown brand "Cayenne"; did you mean "CAYENNE"? (known: CAYENNE, COMMONSENSE, DATACAKE`},
		{"brand needing the user's key",
			"connections:\n  - {\"name\":\"x\",\"connectorId\":\"actility-http-iot\",\"brand\":\"TAGO\"}\n",
			2, "connections[0].configuration.destinationURL", "destinationURL is required for brand TAGO; it starts with https://actility.middleware.tago.io/uplink?authorization="},
		{"duplicate connection names",
			"connections:\n  - " + cayenne + "\n  - " + cayenne + "\n",
			3, "connections[1].name", `connection name "Actility To Cayenne" is used twice: connections[0].name (line 2) and connections[1].name (line 3)`},
		{"duplicate ids",
			"connections:\n  - {\"id\":\"1\",\"name\":\"a\",\"brand\":\"CAYENNE\"}\n  - {\"id\":\"1\",\"name\":\"b\",\"brand\":\"CAYENNE\"}\n",
			3, "connections[1].id", `id "1" is used twice`},
		{"active as text",
			"connections:\n  - {\"name\":\"a\",\"brand\":\"CAYENNE\",\"active\":\"yes\"}\n",
			2, "connections[0].active", `active must be true or false, got "yes"`},
		{"quoted JSON connection",
			"connections:\n  - '{\"name\":\"a\",\"brand\":\"CAYENNE\"}'\n",
			2, "connections[0]", "remove the quotes"},
		{"persist",
			"buffer:\n  persist: on_outage\n",
			2, "buffer.persist", `unknown persist value "on_outage"; did you mean "on-outage"? (known: on-outage, always)`},
		{"bad bind",
			"packetForwarder:\n  udp:\n    bind: 1700\n",
			3, "packetForwarder.udp.bind", `bind "1700" is not host:port; write e.g. "127.0.0.1:1700"`},
		{"bind port out of range",
			"api:\n  bind: 127.0.0.1:80900\n",
			2, "api.bind", "the port must be a number from 0 to 65535"},
		{"upstream without port",
			"packetForwarder:\n  udp:\n    upstreams: [eu1.cloud.thethings.network]\n",
			3, "packetForwarder.udp.upstreams[0]", "is not host:port"},
		{"duration without unit",
			"connections:\n  - {\"name\":\"a\",\"brand\":\"CAYENNE\",\"configuration\":{\"uplinkTimeValidity\":\"300\"}}\n",
			2, "connections[0].configuration.uplinkTimeValidity", `uplinkTimeValidity "300" has no unit; write e.g. 300s`},
		{"duration unknown unit",
			"connections:\n  - name: a\n    brand: CAYENNE\n    configuration:\n      uplinkTimeValidity: 3 days\n",
			5, "connections[0].configuration.uplinkTimeValidity", `has an unknown unit "days"`},
		{"duration zero",
			"connections:\n  - name: a\n    brand: CAYENNE\n    configuration:\n      uplinkTimeValidity: 0s\n",
			5, "connections[0].configuration.uplinkTimeValidity", "must be more than 0"},
		{"byte size unit",
			"buffer:\n  maxSize: 64 megs\n",
			2, "buffer.maxSize", `maxSize "64 megs" has an unknown unit "megs"`},
		{"byte size too small",
			"buffer:\n  maxSize: 100000\n",
			2, "buffer.maxSize", "maxSize must be at least 1MiB (1048576 bytes), got 100000 bytes"},
		{"gateway id",
			"gateway:\n  id: AA555A00000001\n",
			2, "gateway.id", "id must be 16 hex digits, got 14 (the gateway EUI)"},
		{"latitude",
			"gateway:\n  latitude: north\n",
			2, "gateway.latitude", `latitude must be a number, got "north"`},
		{"log level",
			"log:\n  level: warning\n",
			2, "log.level", `unknown log level "warning"; did you mean "warn"?`},
		{"mqtt without scheme",
			"packetForwarder:\n  mqtt:\n    server: 127.0.0.1:1883\n",
			3, "packetForwarder.mqtt.server", `has no scheme; write e.g. "tcp://127.0.0.1:1883"`},
		{"typographic quotes",
			"connections:\n  - {\u201cname\u201d: \"a\", \"brand\": \"CAYENNE\"}\n",
			2, "connections[0].\u201cname\u201d", `did you mean "name"?`},
		{"second document",
			"log:\n  level: info\n---\nlog:\n  level: debug\n",
			3, "", "a second YAML document starts here"},
		{"top level is a list",
			"- gateway\n- buffer\n",
			1, "", "the file must be a mapping of sections"},
		{"merge key",
			"base: &b {level: info}\nlog:\n  <<: *b\n",
			1, "base", `unknown key "base"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, tt.src)
			for _, p := range ps {
				if p.Path == tt.path && strings.Contains(p.Msg, tt.msg) && (tt.line == 0 || p.Line == tt.line) {
					return
				}
			}
			t.Errorf("want line %d, path %q, message containing %q; got:\n%s", tt.line, tt.path, tt.msg, (&Error{File: "edgeflow.yaml", Problems: ps}).Error())
		})
	}
}

// TestAllProblemsAtOnce: one edit fixes everything, so every problem is in
// the one error, in file order.
func TestAllProblemsAtOnce(t *testing.T) {
	data, err := os.ReadFile("testdata/broken/technician.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(t, string(data))
	want := []struct {
		line int
		path string
	}{
		{3, "gateway.id"},
		{6, "packetForwarder.udp.bind"},
		{7, "packetForwarder.udp.upstream"},
		{9, "buffer.persist"},
		{10, "buffer.maxSize"},
		{14, "log.level"},
		{16, "connections[0].configuration.destinationUrl"},
		{17, "connections[1].name"},
		{17, "connections[1].connectorId"},
		{20, "connections[2].brand"},
		{22, "devices[0]"},
		{23, "devices[0].devAddr"},
		{24, "devices[0].nwkSKey"},
		{25, "devices[1]"},
		{25, "devices[1].devEUI"},
		{27, "devices[1].appkey"},
		{28, "devices[2]"},
		{29, "persist"},
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Format(""))
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ps), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if ps[i].Line != w.line || ps[i].Path != w.path {
			t.Errorf("problem %d: got %q, want line %d path %s", i, got[i], w.line, w.path)
		}
	}
}

// TestBrokenFiles checks the full messages of the broken examples against
// their .want files (go test -run TestBrokenFiles -update rewrites them).
func TestBrokenFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/broken/*.yaml")
	if len(files) == 0 {
		t.Fatal("no broken examples")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, _, err := Load(f)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load(%s) = %v, want *Error", f, err)
			}
			got := err.Error() + "\n"
			wantFile := strings.TrimSuffix(f, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("messages changed:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "/etc/edgeflow/edgeflow.yaml", Problems: []Problem{
		{Line: 4, Column: 5, Path: "devices[2].nwkSKey", Msg: "nwkSKey must be 32 hex digits, got 31"},
		{Line: 9, Msg: "YAML syntax error: x"},
	}}
	want := "/etc/edgeflow/edgeflow.yaml:4: devices[2].nwkSKey: nwkSKey must be 32 hex digits, got 31\n" +
		"/etc/edgeflow/edgeflow.yaml:9: YAML syntax error: x"
	if e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
	if got := (Problem{Path: "buffer.persist", Msg: "m"}).Format(""); got != "buffer.persist: m" {
		t.Errorf("without file and line: %q", got)
	}
	if got := (Warning{Line: 3, Path: "api.bind", Msg: "m"}).String(); got != "line 3: api.bind: m" {
		t.Errorf("warning without file: %q", got)
	}
}
