package connector

import "testing"

func TestDefaultHTTPConfigIsNewHTTPs(t *testing.T) {
	h, err := NewHTTP(HTTPConfig{URL: "http://127.0.0.1:1/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultHTTPConfig()
	if h.cfg.Timeout != d.Timeout || h.cfg.Concurrency != d.Concurrency || h.cfg.UserAgent != d.UserAgent {
		t.Errorf("NewHTTP fills in timeout %v, concurrency %d, user agent %q; DefaultHTTPConfig says %v, %d, %q",
			h.cfg.Timeout, h.cfg.Concurrency, h.cfg.UserAgent, d.Timeout, d.Concurrency, d.UserAgent)
	}
}

func TestDefaultMQTTConfigIsNewMQTTs(t *testing.T) {
	m, err := NewMQTT(MQTTConfig{HostName: "127.0.0.1:1883"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultMQTTConfig()
	if m.cfg.ConnectTimeout != d.ConnectTimeout || m.cfg.ActionTimeout != d.ActionTimeout || m.cfg.Topic != d.Topic {
		t.Errorf("NewMQTT fills in %v, %v, %q; DefaultMQTTConfig says %v, %v, %q",
			m.cfg.ConnectTimeout, m.cfg.ActionTimeout, m.cfg.Topic, d.ConnectTimeout, d.ActionTimeout, d.Topic)
	}
}
