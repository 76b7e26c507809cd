package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://lora.mydevices.com/v1/networks/actility/uplink", "https://lora.mydevices.com/v1/networks/actility/uplink"},
		{"https://iot.nomosense.com/api/lora/message/actility-tpe?apikey=0123abcd", "https://iot.nomosense.com/api/lora/message/actility-tpe?apikey=*****"},
		{"https://actility.middleware.tago.io/uplink?authorization=a-b-c&x=1", "https://actility.middleware.tago.io/uplink?authorization=*****&x=1"},
		{"https://cs-vm2m.net/com/http?idName=DevEUI_uplink+DevEUI", "https://cs-vm2m.net/com/http?idName=DevEUI_uplink+DevEUI"},
		{"https://user:pa55@host.example:8443/p?token=&q", "https://user:*****@host.example:8443/p?token=&q"},
		{"https://user@host.example/p#frag", "https://user@host.example/p#frag"},
		{"https://h.example/p?Api_Key=k#x", "https://h.example/p?Api_Key=*****#x"},
	} {
		if got := maskURL(c.in); got != c.want {
			t.Errorf("maskURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRestoreURL(t *testing.T) {
	stored := "https://user:pa55@h.example/up?apikey=K1&site=a&token=T2"
	for _, c := range []struct{ got, want, err string }{
		{maskURL(stored), stored, ""},
		{"https://user:*****@h2.example/up?apikey=*****&site=b&token=*****", "https://user:pa55@h2.example/up?apikey=K1&site=b&token=T2", ""},
		{"https://user:new@h.example/up?apikey=%2A%2A%2A%2A%2A", "https://user:new@h.example/up?apikey=K1", ""},
		{"https://h.example/up?apikey=NEW", "https://h.example/up?apikey=NEW", ""},
		{"https://h.example/up?key2=*****", "", "key2"},
	} {
		got, _, err := restoreURL(c.got, stored)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("restoreURL(%q) = %q, %v; want an error about %s", c.got, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("restoreURL(%q) = %q, %v; want %q", c.got, got, err, c.want)
		}
	}
}

func TestMaskAndRestoreTree(t *testing.T) {
	stored := map[string]any{}
	_ = json.Unmarshal([]byte(`{"destinationURL":"https://h.example/?apikey=K","headers":{"Authorization":"Token S","X-Site":"a"},
		"password":"P","tunnelInterfaceAuthenticationKey":"00112233","proxy":{"hostname":"p","password":"PP"},"description":"d"}`), &stored)
	shown := map[string]any{}
	b, _ := json.Marshal(stored)
	_ = json.Unmarshal(b, &shown)
	maskTree(shown)
	out, _ := json.Marshal(shown)
	for _, secret := range []string{"K\"", "Token S", "\"P\"", "00112233", "PP"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("masked tree shows %s: %s", secret, out)
		}
	}
	if !strings.Contains(string(out), `"X-Site":"a"`) || !strings.Contains(string(out), `"description":"d"`) {
		t.Errorf("masked too much: %s", out)
	}
	var restored []string
	if probs := restoreTree(shown, stored, "", &restored); len(probs) != 0 {
		t.Fatalf("restore: %v", probs)
	}
	back, _ := json.Marshal(shown)
	if string(back) != string(b) {
		t.Errorf("restored %s\nwant     %s", back, b)
	}
	if want := "destinationURL headers.Authorization password proxy.password tunnelInterfaceAuthenticationKey"; strings.Join(sortedCopy(restored), " ") != want {
		t.Errorf("restored %v, want %s", restored, want)
	}
	probs := restoreTree(map[string]any{"headers": map[string]any{"X-New-Token": Mask}}, stored, "", new([]string))
	if len(probs) != 1 || probs[0].Path != "headers.X-New-Token" {
		t.Errorf("a mask with nothing stored: %v", probs)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
