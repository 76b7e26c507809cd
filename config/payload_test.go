package config

import (
	"strings"
	"testing"
)

func TestPayloadFormat(t *testing.T) {
	dev := "devices:\n  - devEUI: \"70B3D57ED0000001\"\n    devAddr: \"260B0001\"\n    nwkSKey: \"000102030405060708090A0B0C0D0E0F\"\n    appSKey: \"000102030405060708090A0B0C0D0E0F\"\n"
	c, _, err := Parse([]byte(dev+"    payloadFormat: cayenne-lpp\n"), "")
	if err != nil || c.Devices[0].PayloadFormat != PayloadCayenneLPP {
		t.Fatalf("%+v %v", c, err)
	}
	_, _, err = Parse([]byte(dev+"    payloadFormat: cayenne\n"), "")
	if err == nil || !strings.Contains(err.Error(), `did you mean "cayenne-lpp"`) {
		t.Fatalf("a misspelt format: %v", err)
	}
}
