package connector

import (
	"strings"
	"testing"

	"edgeflow/config"
	"edgeflow/uplink"
)

func TestPatternExpand(t *testing.T) {
	u := &uplink.Uplink{FPort: 7, FCnt: 70000}
	mustHex(t, u.DevEUI[:], "70b3d57ed0000001")
	mustHex(t, u.DevAddr[:], "260b0001")
	for in, want := range map[string]string{
		"mqtt/things/{DevEUI}/uplink": "mqtt/things/70B3D57ED0000001/uplink",
		"{DevAddr}-{FPort}-{FCntUp}":  "260B0001-7-70000",
		"Bearer abc":                  "Bearer abc",
		"":                            "",
		"{FPort}{FPort}":              "77",
	} {
		p, err := ParsePattern(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := p.Expand(u); got != want {
			t.Errorf("%q expanded to %q, want %q", in, got, want)
		}
	}
}

func TestPatternErrorsKeepSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"x/{DevEui}":             "unknown pattern {DevEui}",
		"Token {s3cr3t-value!}":  "unknown pattern {…}",
		"Bearer {abc":            "without its }",
		"{$..CustomerData.tags}": "unknown pattern {…}",
	} {
		_, err := ParsePattern(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one with %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows the value: %v", err)
		}
	}
}

// config checks patterns without importing this package; the two lists
// must stay the same.
func TestPatternFieldsMatchConfig(t *testing.T) {
	if got, want := strings.Join(config.PatternFields(), ","), strings.Join(PatternFields(), ","); got != want {
		t.Fatalf("config knows %s, the connector %s", got, want)
	}
}
