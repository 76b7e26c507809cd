package config

import (
	"reflect"
	"strings"
	"testing"
)

// Connections of both connectors, as IoT Flow's documentation writes them
// plus edgeflow's keys, parse without problems or warnings.
func TestConnectorConfigurations(t *testing.T) {
	src := `connections:
  - {"name":"Test HTTP Connection","connectorId":"actility-http-iot",
     "configuration":{"headers":{"Authorization":"Bearer eg89a53sx!=","X-Thing":"{DevEUI}","X-Site":"BuildingA"},
                      "destinationURL":"https://posthere.io/4b29-45f6-94tc","lrcCompliance":true,
                      "tunnelInterfaceAuthenticationKey":"f3203a20a2e8dfaf6686b621f56d05e3","asId":"TWA_1.AS",
                      "lrnInfos":"site-1","customerId":"100002167","reconnectStrategy":"CALM"}}
  - {"connectorId":"actility-mqtt-iot","name":"Actility MQTT Connection","active":false,
     "configuration":{"description":"MQTT connection example","uplinkTopicPattern":"mqtt/things/{DevEUI}/uplink",
       "hostName":"127.0.0.1:1883","protocol":"TCP","username":"mycompany","password":"bar",
       "connectionTimeout":3000,"actionTimeout":"2s"}}
  - {"name":"wmw","brand":"WMW","configuration":{"hostName":"broker:8883","protocol":"ssl"}}
`
	c, warns, err := Parse([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	h, m, w := c.Connections[0].Configuration, c.Connections[1].Configuration, c.Connections[2]
	if !h.LRCCompliance || h.ASID != "TWA_1.AS" || h.LrnInfos != "site-1" || h.CustomerID != "100002167" || h.Headers["X-Thing"] != "{DevEUI}" {
		t.Errorf("http: %+v", h)
	}
	if m.HostName != "127.0.0.1:1883" || m.Password != "bar" || m.ConnectionTimeout != 3000 || m.ActionTimeout != 2000 || c.Connections[1].IsActive() {
		t.Errorf("mqtt: %+v", m)
	}
	if w.ConnectorID != ConnectorMQTT || w.Configuration.MQTTProtocol() != ProtocolSSL {
		t.Errorf("brand WMW: %+v", w)
	}
}

func TestConnectorMistakes(t *testing.T) {
	tests := []struct {
		name, conn, path, msg string
	}{
		{"bad protocol", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","protocol":"SSH"}}`,
			"connections[0].configuration.protocol", `unknown protocol "SSH"; did you mean "SSL"?`},
		{"no hostName", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{}}`,
			"connections[0].configuration.hostName", "hostName is required"},
		{"scheme in hostName", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"ssl://b:8883"}}`,
			"connections[0].configuration.hostName", "without a scheme"},
		{"misspelt mqtt key", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostname":"b:1883"}}`,
			"connections[0].configuration.hostname", `did you mean "hostName"?`},
		{"http key on mqtt", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","destinationURL":"https://x"}}`,
			"connections[0].configuration.destinationURL", `unknown key "destinationURL"`},
		{"topic pattern typo", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","uplinkTopicPattern":"up/{DevEui}"}}`,
			"connections[0].configuration.uplinkTopicPattern", `unknown pattern {DevEui}; did you mean {DevEUI}?`},
		{"topic wildcard", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","uplinkTopicPattern":"up/#"}}`,
			"connections[0].configuration.uplinkTopicPattern", "wildcard"},
		{"timeout too long", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","actionTimeout":20000}}`,
			"connections[0].configuration.actionTimeout", "at most 10000"},
		{"timeout not a number", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","connectionTimeout":"soon"}}`,
			"connections[0].configuration.connectionTimeout", "in milliseconds"},
		{"key without cert", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:8883","protocol":"SSL","privateKey":"-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----"}}`,
			"connections[0].configuration.certificate", "without its certificate"},
		{"bad CA", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:8883","protocol":"SSL","trustedCaCertificate":"nope"}}`,
			"connections[0].configuration.trustedCaCertificate", "no PEM certificate"},
		{"both CA spellings", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:8883","trustedCaCertficate":"a","trustedCaCertificate":"b"}}`,
			"connections[0].configuration.trustedCaCertificate", "same key"},
		{"short TIAK", `{"name":"h","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x/","lrcCompliance":true,"tunnelInterfaceAuthenticationKey":"secretvalue"}}`,
			"connections[0].configuration.tunnelInterfaceAuthenticationKey", "32 hex digits"},
		{"header pattern typo", `{"name":"h","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x/","headers":{"X-Port":"{Fport}"}}}`,
			"connections[0].configuration.headers.X-Port", "did you mean {FPort}?"},
		{"header JsonPath", `{"name":"h","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x/","headers":{"X-Tag":"{$..CustomerData.tags[0]}"}}}`,
			"connections[0].configuration.headers.X-Tag", "JsonPath patterns are not supported"},
		{"brand on the wrong connector", `{"name":"h","connectorId":"actility-mqtt-iot","brand":"CAYENNE","configuration":{"hostName":"b:1883"}}`,
			"connections[0].brand", "brand CAYENNE runs on connector actility-http-iot, not actility-mqtt-iot"},
		{"unknown brand", `{"name":"h","connectorId":"actility-http-iot","brand":"QUBITR0","configuration":{"destinationURL":"https://x/"}}`,
			"connections[0].brand", `did you mean "QUBITRO"? (known: CAYENNE, COMMONSENSE, DATACAKE`},
		{"bad reconnectStrategy", `{"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","reconnectStrategy":"AGRESSIVE"}}`,
			"connections[0].configuration.reconnectStrategy", `did you mean "AGGRESSIVE"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problems(t, "connections:\n  - "+strings.ReplaceAll(tt.conn, "\n", `\n`)+"\n")
			for _, p := range ps {
				if p.Path == tt.path && strings.Contains(p.Msg, tt.msg) && p.Line == 2 {
					if strings.Contains(p.Msg, "secretvalue") || strings.Contains(p.Msg, "PRIVATE KEY") {
						t.Errorf("the message shows the secret: %s", p.Msg)
					}
					return
				}
			}
			t.Errorf("want path %q, message containing %q; got:\n%s", tt.path, tt.msg, (&Error{File: "edgeflow.yaml", Problems: ps}).Error())
		})
	}
}

// Keys that do nothing without lrcCompliance, or without TLS, are pointed out.
func TestConnectorWarnings(t *testing.T) {
	src := "connections:\n" +
		`  - {"name":"h","connectorId":"actility-http-iot","configuration":{"destinationURL":"https://x/","asId":"a"}}` + "\n" +
		`  - {"name":"m","connectorId":"actility-mqtt-iot","configuration":{"hostName":"b:1883","trustedCaCertficate":"x","downlinkTopicPattern":"d"}}` + "\n"
	_, warns, err := Parse([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, w := range warns {
		all = append(all, w.Path+": "+w.Msg)
	}
	s := strings.Join(all, "\n")
	for _, want := range []string{"asId is used only with lrcCompliance", "trustedCaCertficate is used only with protocol SSL or WSS", "downlinkTopicPattern is ignored"} {
		if !strings.Contains(s, want) {
			t.Errorf("no warning %q in:\n%s", want, s)
		}
	}
}

// The API writes connections back to the file: every connector key must
// survive the round trip.
func TestConnectorKeysSurviveWriteBack(t *testing.T) {
	path := t.TempDir() + "/edgeflow.yaml"
	conns := []Connection{
		{ID: "lrc", Name: "LRC", ConnectorID: ConnectorHTTP, Configuration: ConnectionConfiguration{
			DestinationURL: "https://as.example/up", Headers: map[string]string{"X-Thing": "{DevEUI}"}, LRCCompliance: true,
			TunnelInterfaceAuthenticationKey: "00112233445566778899aabbccddeeff", ASID: "as", LrnInfos: "li", CustomerID: "7",
			ReconnectStrategy: "AGGRESSIVE"}},
		{ID: "mq", Name: "MQ", ConnectorID: ConnectorMQTT, Active: new(bool), Configuration: ConnectionConfiguration{
			HostName: "b:8883", Protocol: "SSL", Username: "u", Password: "p", UplinkTopicPattern: "t/{DevEUI}",
			ConnectionTimeout: 3000, ActionTimeout: 2000}},
	}
	if err := SaveConnections(path, conns); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Connections, conns) {
		t.Errorf("after the write-back:\n%+v\nwant\n%+v", c.Connections, conns)
	}
}
