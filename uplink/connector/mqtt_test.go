package connector_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"edgeflow/internal/testkit"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgeflow/uplink"
	"edgeflow/uplink/connector"
	"edgeflow/uplink/delivery"
)

// broker is testkit's embedded broker; only user "gw" with password
// "s3cret" may connect.
type broker struct{ *testkit.Broker }

type published struct {
	topic string
	doc   map[string]any
}

func newBroker(t *testing.T, kind string, tc *tls.Config) broker {
	return broker{testkit.StartBroker(t, testkit.BrokerOptions{Username: "gw", Password: "s3cret", WebSocket: kind == "ws", TLS: tc})}
}

// received is what clients published, each a DevEUI_uplink document.
func (b broker) received(t *testing.T) []published {
	var out []published
	for _, p := range b.Published() {
		var doc struct {
			U map[string]any `json:"DevEUI_uplink"`
		}
		if err := json.Unmarshal(p.Payload, &doc); err != nil {
			t.Errorf("payload is not a DevEUI_uplink document: %v", err)
		}
		out = append(out, published{topic: p.Topic, doc: doc.U})
	}
	return out
}

// The whole MQTT path through an outage: the broker stops, uplinks queue,
// the broker comes back on the same port, and every uplink arrives once,
// in order, on its expanded topic, those held back marked Late.
func TestMQTTThroughOutage(t *testing.T) {
	b := newBroker(t, "tcp", nil)
	mq, err := connector.NewMQTT(connector.MQTTConfig{HostName: b.Addr, Protocol: "TCP", Username: "gw", Password: "s3cret",
		Topic: "mqtt/things/{DevEUI}/uplink/{FPort}", CustomerID: "42"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newManager(t, delivery.Connection{ID: "mqtt", Name: "mqtt", Connector: mq})
	ctx := context.Background()
	for i := uint32(1); i <= 5; i++ {
		if err := m.Enqueue(ctx, []uplink.Uplink{testUplink(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "5 deliveries", func() bool { return len(b.received(t)) == 5 && m.Status()[0].Delivered == 5 })
	b.Stop()
	for i := uint32(6); i <= 30; i++ {
		if err := m.Enqueue(ctx, []uplink.Uplink{testUplink(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "UNREACHABLE with 25 waiting", func() bool {
		st := m.Status()[0]
		return st.State == delivery.StateUnreachable && st.Backlog == 25
	})
	b.Start()
	// Once all 30 are delivered with none waiting nothing more is sent:
	// what the broker has then is all it gets.
	waitUntil(t, "30 deliveries", func() bool { st := m.Status()[0]; return st.Delivered == 30 && st.Backlog == 0 })
	got := b.received(t)
	if len(got) != 30 {
		t.Fatalf("broker got %d publishes, want 30", len(got))
	}
	for i, p := range got {
		u := testUplink(uint32(i + 1))
		want := "mqtt/things/" + strings.ToUpper(u.DevEUI.String()) + "/uplink/" + strconv.Itoa(int(u.FPort))
		if p.topic != want {
			t.Errorf("publish %d on %q, want %q", i, p.topic, want)
		}
		if p.doc["FCntUp"] != float64(i+1) {
			t.Fatalf("publish %d has FCntUp %v: out of order or repeated", i, p.doc["FCntUp"])
		}
		if late := p.doc["Late"] == float64(1); late != (i >= 5) {
			t.Errorf("FCntUp %d: Late %v", i+1, p.doc["Late"])
		}
		if p.doc["CustomerID"] != "42" {
			t.Errorf("CustomerID %v", p.doc["CustomerID"])
		}
	}
	if st := m.Status()[0]; st.State != delivery.StateOpened || st.Backlog != 0 {
		t.Errorf("after the outage: %s with %d waiting", st.State, st.Backlog)
	}
}

// TLS with a CA made here, the broker requiring a client certificate
// (mutual TLS), and the same over secure websockets.
func TestMQTTTLSAndClientCertificate(t *testing.T) {
	pki := newPKI(t)
	for _, kind := range []struct{ listener, protocol string }{{"tcp", "SSL"}, {"ws", "WSS"}} {
		t.Run(kind.protocol, func(t *testing.T) {
			b := newBroker(t, kind.listener, pki.serverTLS)
			mq, err := connector.NewMQTT(connector.MQTTConfig{HostName: b.Addr, Protocol: kind.protocol, Username: "gw", Password: "s3cret",
				TrustedCA: pki.caPEM, Certificate: pki.clientCertPEM, PrivateKey: pki.clientKeyPEM}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer mq.Close()
			u := testUplink(7)
			if err := mq.Send(context.Background(), &u, false); err != nil {
				t.Fatal(err)
			}
			// The broker's hook runs after it sent the PUBACK.
			waitUntil(t, "the publish", func() bool { return len(b.received(t)) > 0 })
			got := b.received(t)
			if len(got) != 1 || got[0].topic != "mqtt/things/"+strings.ToUpper(u.DevEUI.String())+"/uplink" {
				t.Fatalf("broker got %+v", got)
			}
			// Without the client certificate the broker refuses: that is
			// a credential failure, not an outage.
			bare, err := connector.NewMQTT(connector.MQTTConfig{HostName: b.Addr, Protocol: kind.protocol, Username: "gw", Password: "s3cret",
				TrustedCA: pki.caPEM, ConnectTimeout: 2 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer bare.Close()
			err = bare.Send(context.Background(), &u, false)
			var ce *connector.Error
			if !errors.As(err, &ce) || ce.Kind != connector.Unauthorized {
				t.Fatalf("without a client certificate: %v", err)
			}
			// Without the CA the broker is not trusted.
			untrusted, _ := connector.NewMQTT(connector.MQTTConfig{HostName: b.Addr, Protocol: kind.protocol, Username: "gw", Password: "s3cret",
				Certificate: pki.clientCertPEM, PrivateKey: pki.clientKeyPEM}, nil)
			defer untrusted.Close()
			if err := untrusted.Send(context.Background(), &u, false); !errors.As(err, &ce) || ce.Kind != connector.Retry {
				t.Fatalf("untrusted broker: %v", err)
			}
		})
	}
}

func TestMQTTBadCredentialsAreUnauthorized(t *testing.T) {
	b := newBroker(t, "tcp", nil)
	mq, err := connector.NewMQTT(connector.MQTTConfig{HostName: b.Addr, Username: "gw", Password: "wrong"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	u := testUplink(1)
	err = mq.Send(context.Background(), &u, false)
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Kind != connector.Unauthorized {
		t.Fatalf("err %v, want Unauthorized", err)
	}
	if s := err.Error(); strings.Contains(s, "wrong") {
		t.Errorf("the error shows the password: %s", s)
	}
}

func TestMQTTBrokerDownIsRetried(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	mq, err := connector.NewMQTT(connector.MQTTConfig{HostName: addr, ConnectTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := testUplink(1)
	err = mq.Send(context.Background(), &u, false)
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Kind != connector.Retry {
		t.Fatalf("err %v, want Retry", err)
	}
}

func TestNewMQTTRefusesBadParameters(t *testing.T) {
	for _, cfg := range []connector.MQTTConfig{
		{HostName: "tcp://b:1883"},
		{HostName: "b:1883", Protocol: "SSH"},
		{HostName: "b:1883", Topic: "up/{DevEui}"},
		{HostName: "b:8883", Protocol: "SSL", TrustedCA: "nope"},
		{HostName: "b:8883", Protocol: "SSL", Certificate: "x", PrivateKey: "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----"},
	} {
		_, err := connector.NewMQTT(cfg, nil)
		if err == nil {
			t.Errorf("%+v accepted", cfg)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the key: %v", err)
		}
	}
}

// pki is a CA, a server certificate for 127.0.0.1 and a client
// certificate, made for the test.
type pki struct {
	caPEM, clientCertPEM, clientKeyPEM string
	serverTLS                          *tls.Config
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgeflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		pk8, _ := x509.MarshalPKCS8PrivateKey(key) // IoT Flow asks for PKCS#8
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})
	}
	srvCert, srvKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	cliCert, cliKey := issue(3, "gateway", x509.ExtKeyUsageClientAuth, nil)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{
		caPEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		clientCertPEM: string(cliCert), clientKeyPEM: string(cliKey),
		serverTLS: &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
			MinVersion: tls.VersionTLS12},
	}
}

// A broker that accepts the connection and never answers is given
// connectionTimeout, then retried: the lane is not held.
func TestMQTTSilentBrokerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	mq, err := connector.NewMQTT(connector.MQTTConfig{HostName: ln.Addr().String(), ConnectTimeout: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	u := testUplink(1)
	done := make(chan error, 1)
	go func() { done <- mq.Send(context.Background(), &u, false) }()
	select {
	case err := <-done:
		var ce *connector.Error
		if !errors.As(err, &ce) || ce.Kind != connector.Retry {
			t.Fatalf("err %v, want Retry", err)
		}
	case <-time.After(testkit.Patience):
		t.Fatal("Send is still waiting for a silent broker")
	}
}
