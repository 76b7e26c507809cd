package config

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	in := `Post "https://iot.nomosense.com/x?apikey=SECRET&site=S2": dial tcp: lookup iot.nomosense.com: no such host; see http://a.example/?token=T2 now; broker tcp://bob:PW@10.0.0.1:1883 down`
	got := Redact(in)
	for _, secret := range []string{"SECRET", "S2", "T2", "bob", "PW"} {
		if strings.Contains(got, secret) {
			t.Errorf("Redact shows %s: %s", secret, got)
		}
	}
	for _, keep := range []string{"no such host", `"https://iot.nomosense.com/x?apikey=*****&site=*****"`, "tcp://*****@10.0.0.1:1883 down"} {
		if !strings.Contains(got, keep) {
			t.Errorf("Redact lost %q: %s", keep, got)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@Lora.MyDevices.com/v1?x=1": "https://lora.mydevices.com:443",
		"http://10.0.0.1:8080/up":               "http://10.0.0.1:8080",
		"tcp://broker.lan":                      "tcp://broker.lan:1883",
		"https://[::1]/":                        "https://[::1]:443",
		"not a url":                             "",
	} {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
