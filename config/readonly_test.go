package config

import (
	"strings"
	"testing"
)

// A connection pasted as IoT Flow's API answers it, and one as edgeflow's
// own GET /connections/{id} answers it, validate with one warning naming
// the read-only keys.
func TestPastedGETAnswers(t *testing.T) {
	iotflow := `{"id":"1114","name":"Actility To Cayenne","connectorId":"actility-http-iot","brand":"CAYENNE",
      "active":true,"state":"OPENED","startupTime":"2026-11-20T10:00:00Z","createdBy":"jdoe","creationTime":"2026-11-20T09:59:00Z",
      "lastUpdatedBy":"jdoe","lastUpdateTime":"2026-11-21T08:00:00Z","subscriberId":"100001234",
      "configuration":{"destinationURL":"https://lora.mydevices.com/v1/networks/actility/uplink"}}`
	own := `{"id":"bench","name":"Bench","connectorId":"actility-http-iot","active":true,
      "configuration":{"destinationURL":"https://example.com/up","headers":{"X-Site":"a"}},
      "state":"OPENING","startupTime":"2026-12-02T16:53:46.69Z","lastDelivery":"2026-12-02T16:53:47Z","lastError":"endpoint answered 503",
      "lastErrorTime":"2026-12-02T16:53:47Z","delivered":3,"backlog":0,"backlogBytes":0,"oldestAge":"1s","deadLetters":0}`
	for name, obj := range map[string]string{"IoT Flow": iotflow, "edgeflow": own} {
		t.Run(name, func(t *testing.T) {
			c, w := mustParse(t, "connections:\n  - "+obj+"\n")
			if len(c.Connections) != 1 || len(w) != 1 || w[0].Path != "connections[0]" || !strings.Contains(w[0].Msg, "read-only keys of a GET answer are ignored") ||
				!strings.Contains(w[0].Msg, "state") || !strings.Contains(w[0].Msg, "startupTime") {
				t.Fatalf("connections %+v, warnings %v", c.Connections, w)
			}
		})
	}
	// Two pasted connections still make one warning.
	_, w := mustParse(t, "connections:\n  - "+iotflow+"\n  - "+own+"\n")
	if len(w) != 1 || w[0].Path != "connections" || !strings.Contains(w[0].Msg, "connections[0] (") || !strings.Contains(w[0].Msg, "connections[1] (") {
		t.Fatalf("warnings %v", w)
	}
}

// A secret pasted masked from a GET answer is refused where it is: sent
// on, the endpoint would refuse every uplink.
func TestMaskedSecretRefused(t *testing.T) {
	text := "connections:\n  - {\"name\":\"B\",\"connectorId\":\"actility-http-iot\",\"configuration\":{\"destinationURL\":\"https://example.com/up?apikey=*****\",\"headers\":{\"Authorization\":\"*****\"}}}\n"
	_, _, err := Parse([]byte(text), "f.yaml")
	if err == nil {
		t.Fatal("masked secrets accepted")
	}
	for _, want := range []string{"configuration.destinationURL: \"*****\" is the mask", "configuration.headers.Authorization: \"*****\" is the mask"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lacks %q:\n%v", want, err)
		}
	}
}
