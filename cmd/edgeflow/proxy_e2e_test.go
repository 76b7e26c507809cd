package main_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// TestConnectionProxy: a connection with IoT Flow's proxy parameter sends
// through that proxy, with its credentials.
func TestConnectionProxy(t *testing.T) {
	d := newDevice(1)
	ep := testkit.NewSink(t)
	var proxied atomic.Int32
	var auth atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy gets the absolute URL of the endpoint.
		if r.URL.Host == "" || r.URL.Host != strings.TrimPrefix(ep.URL, "http://") {
			http.Error(w, "not a proxy request: "+r.URL.String(), http.StatusBadRequest)
			return
		}
		auth.Store(r.Header.Get("Proxy-Authorization"))
		proxied.Add(1)
		out, err := http.NewRequest(r.Method, r.URL.String(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Del("Proxy-Authorization")
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}))
	t.Cleanup(proxy.Close)
	cfg := strings.Replace(configText(ep.URL, "on-outage", d),
		fmt.Sprintf(`"destinationURL":%q}`, ep.URL),
		fmt.Sprintf(`"destinationURL":%q,"proxy":{"hostname":%q,"username":"tech","password":"s3cret"}}`, ep.URL, strings.TrimPrefix(proxy.URL, "http://")), 1)
	ag := testkit.StartAgent(t, cfg)
	fw := newForwarder(t, ag.UDP)
	fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte("via")), -70, 5, ""))
	ep.WaitUplinks(t, 1)
	if proxied.Load() != 1 {
		t.Fatalf("%d requests through the proxy, want 1", proxied.Load())
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("tech:s3cret"))
	if got, _ := auth.Load().(string); got != want {
		t.Errorf("Proxy-Authorization = %q, want %q", got, want)
	}
	if strings.Contains(ag.Log(), "s3cret") {
		t.Errorf("the proxy password is in the log")
	}
	ag.Stop(t)
}
