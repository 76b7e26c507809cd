package config

import (
	"os"
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

func TestPayloadFormatColumn(t *testing.T) {
	p := t.TempDir() + "/devices.csv"
	csv := "devEUI,devAddr,nwkSKey,appSKey,payloadFormat\n70B3D57ED0000001,260B0001,000102030405060708090A0B0C0D0E0F,000102030405060708090A0B0C0D0E0F,hex\n" +
		"70B3D57ED0000002,260B0002,000102030405060708090A0B0C0D0E0F,000102030405060708090A0B0C0D0E0F,lpp\n"
	if err := os.WriteFile(p, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadDevicesFile(p)
	if err == nil || !strings.Contains(err.Error(), `unknown payloadFormat "lpp"`) {
		t.Fatalf("%v", err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(csv, ",lpp\n", ",cayenne-lpp\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	devs, err := ReadDevicesFile(p)
	if err != nil || devs[0].PayloadFormat != PayloadHex || devs[1].PayloadFormat != PayloadCayenneLPP {
		t.Fatalf("%+v %v", devs, err)
	}
}
