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

func TestDestination(t *testing.T) {
	http := func(u, proxy string) Connection {
		c := Connection{ConnectorID: ConnectorHTTP, Configuration: ConnectionConfiguration{DestinationURL: u}}
		if proxy != "" {
			c.Configuration.Proxy = &Proxy{Hostname: proxy, Username: "u", Password: "p"}
		}
		return c
	}
	mqtt := func(proto, host string) Connection {
		return Connection{ConnectorID: ConnectorMQTT, Configuration: ConnectionConfiguration{Protocol: proto, HostName: host}}
	}
	same := [][2]Connection{
		{http("https://a.example/up?k=1", ""), http("https://A.example:443/other?k=2", "")},
		{http("http://u:p@a.example:8080/x", "proxy:3128"), http("http://a.example:8080/y", "http://proxy:3128")},
		{mqtt("SSL", "broker:8883"), mqtt("ssl", "broker")},
	}
	for _, p := range same {
		if a, b := p[0].Destination(), p[1].Destination(); a != b {
			t.Errorf("%q != %q", a, b)
		}
	}
	differ := [][2]Connection{
		{http("https://a.example/up", ""), http("https://b.example/up", "")},
		{http("https://a.example/up", ""), http("http://a.example/up", "")},
		{http("https://a.example/up", ""), http("https://a.example:8443/up", "")},
		{http("https://a.example/up", "proxy:3128"), http("https://a.example/up", "other:3128")},
		{mqtt("TCP", "broker:1883"), mqtt("TCP", "evil:1883")},
		{mqtt("TCP", "broker"), mqtt("SSL", "broker")},
	}
	for _, p := range differ {
		if a, b := p[0].Destination(), p[1].Destination(); a == b {
			t.Errorf("%+v and %+v: both %q", p[0].Configuration, p[1].Configuration, a)
		}
	}
}

// FuzzRedact: any text (an error, a log value) is redacted without a
// panic, redacting twice changes nothing, and a planted password or query
// value in a URL does not survive.
func FuzzRedact(f *testing.F) {
	f.Add(`Post "https://u:p@x.example/?apikey=K": EOF`, "PW-1234")
	f.Add("tcp://a:b@c:1883 ://x?y=z http://", "z9z9z9")
	f.Fuzz(func(t *testing.T, s, secret string) {
		once := Redact(s)
		if twice := Redact(once); twice != once {
			t.Fatalf("not idempotent: %q → %q → %q", s, once, twice)
		}
		if len(secret) < 6 || strings.ContainsAny(secret, " \t\r\n\"'<>`@/?#&=:%") || strings.Contains(Redacted, secret) {
			return
		}
		for _, u := range []string{"https://user:" + secret + "@h.example/p", "http://h.example/p?k=" + secret, "ws://h/p?a=1&b=" + secret + "#f"} {
			if out := Redact(s + " " + u + " " + s); strings.Contains(out, secret) && !strings.Contains(s, secret) {
				t.Fatalf("Redact(%q) keeps %q: %q", u, secret, out)
			}
		}
	})
}
