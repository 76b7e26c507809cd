package api_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"edgeflow/agent/api"
)

// TestMQTTConnectionSecrets: an actility-mqtt-iot connection's password and
// private key are masked like an HTTP connection's headers, and a
// GET-modify-PUT keeps them.
func TestMQTTConnectionSecrets(t *testing.T) {
	dev := newDevice(6)
	ep := newEndpoint(t)
	path := filepath.Join(t.TempDir(), "edgeflow.yaml")
	r := startAgent(t, path, technicianFile(ep.URL, dev))
	body := `{"name":"Broker","connectorId":"actility-mqtt-iot","active":false,"configuration":{"hostName":"127.0.0.1:1883","protocol":"TCP",
		"username":"gw","password":"SECRET-PW","uplinkTopicPattern":"mqtt/things/{DevEUI}/uplink","privateKey":"SECRET-KEY-PEM"}}`
	_, got := r.must("POST", "/connections", body, http.StatusCreated)
	noSecrets(t, got)
	c := decode[api.Connection](t, got)
	if c.Configuration["password"] != api.Mask || c.Configuration["privateKey"] != api.Mask || c.Configuration["username"] != "gw" || c.State != "DEACTIVATED" {
		t.Fatalf("created: %s", got)
	}
	changed := strings.Replace(got, `"username": "gw"`, `"username": "gw2"`, 1)
	_, got = r.must("PUT", "/connections/broker", changed, http.StatusOK)
	noSecrets(t, got)
	text := readFile(t, path)
	if !strings.Contains(text, `"password":"SECRET-PW"`) || !strings.Contains(text, `"privateKey":"SECRET-KEY-PEM"`) || !strings.Contains(text, `"username":"gw2"`) {
		t.Fatalf("the file after GET-modify-PUT:\n%s", text)
	}
}
