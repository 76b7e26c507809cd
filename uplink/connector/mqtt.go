package connector

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"edgeflow/uplink"
)

// MQTTConfig configures an actility-mqtt-iot connection.
type MQTTConfig struct {
	// HostName is the broker's host:port, with a path for WSS
	// ("broker:443/mqtt"); without a port, the protocol's usual one.
	HostName string
	// Protocol is TCP, SSL or WSS (IoT Flow's values); "" is TCP.
	Protocol string
	Username string
	Password string // a secret: never logged
	// TrustedCA is PEM text of the CAs that verify the broker; "" means the
	// system roots.
	TrustedCA string
	// Certificate and PrivateKey are PEM text of a client certificate.
	Certificate string
	PrivateKey  string // a secret: never logged
	// Topic is the uplink topic pattern ("mqtt/things/{DevEUI}/uplink").
	Topic string
	// ConnectTimeout bounds a connection (TCP, TLS and CONNACK), and
	// ActionTimeout the wait for a PUBACK: IoT Flow's connectionTimeout
	// and actionTimeout, 5 s and 1 s by default.
	ConnectTimeout time.Duration
	ActionTimeout  time.Duration
	// ClientID is the MQTT client id; "" makes a random one, so that two
	// gateways with the same configuration do not throw each other off.
	ClientID string
	// CustomerID is the DevEUI_uplink CustomerID.
	CustomerID string
	// BeforeTLS, when set, runs before a connection over TLS is made (see
	// HTTPConfig.BeforeTLS).
	BeforeTLS func()
}

// MQTT is the actility-mqtt-iot connector: each uplink's DevEUI_uplink
// document published with QoS 1 to the expanded topic. Send returns once
// the broker acknowledged it (PUBACK), so a delivered uplink is the
// broker's.
//
// The connector connects on demand and never reconnects on its own: the
// delivery lane's retry is the one reconnect policy, so backoff, order and
// Late work as they do for HTTP. Sessions are clean: an unacknowledged
// publish is retried by the lane, not replayed by the client behind its
// back (which could reorder uplinks).
type MQTT struct {
	cfg    MQTTConfig
	broker string
	topic  Pattern
	tls    *tls.Config
	log    *slog.Logger

	mu     sync.Mutex // guards client; Send is called by one goroutine, Close by another
	client paho.Client
	lost   chan struct{} // closed when the current client's connection drops
}

// DefaultMQTTConfig holds what an MQTTConfig field left zero gets (NewMQTT;
// a test keeps the two equal): IoT Flow's connectionTimeout, actionTimeout
// and example topic. config states the same for the file
// (DefaultMQTTConnectionTimeout, …), and a test in agent keeps them equal.
func DefaultMQTTConfig() MQTTConfig {
	return MQTTConfig{ConnectTimeout: 5 * time.Second, ActionTimeout: time.Second, Topic: "mqtt/things/{DevEUI}/uplink"}
}

// NewMQTT checks cfg and builds the connector; it does not connect.
func NewMQTT(cfg MQTTConfig, log *slog.Logger) (*MQTT, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.ActionTimeout <= 0 {
		cfg.ActionTimeout = time.Second
	}
	if cfg.Topic == "" {
		cfg.Topic = "mqtt/things/{DevEUI}/uplink"
	}
	if cfg.ClientID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.ClientID = "edgeflow-" + hex.EncodeToString(b[:])
	}
	topic, err := ParsePattern(cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("uplinkTopicPattern: %w", err)
	}
	broker, err := brokerURL(cfg.Protocol, cfg.HostName)
	if err != nil {
		return nil, err
	}
	m := &MQTT{cfg: cfg, broker: broker, topic: topic, log: log}
	if !strings.HasPrefix(broker, "tcp://") {
		if m.tls, err = clientTLS(cfg); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// brokerURL turns IoT Flow's protocol and hostName into paho's broker URL.
func brokerURL(protocol, host string) (string, error) {
	if host == "" || strings.Contains(host, "://") {
		return "", fmt.Errorf("hostName %q: want host:port", host)
	}
	scheme, port := "", ""
	switch strings.ToUpper(protocol) {
	case "", "TCP":
		scheme, port = "tcp", "1883"
	case "SSL":
		scheme, port = "ssl", "8883"
	case "WSS":
		scheme, port = "wss", "443"
	default:
		return "", fmt.Errorf("protocol %q: want TCP, SSL or WSS", protocol)
	}
	hp, path, _ := strings.Cut(host, "/")
	if _, _, err := net.SplitHostPort(hp); err != nil {
		hp = net.JoinHostPort(strings.Trim(hp, "[]"), port)
	}
	if path != "" {
		if scheme != "wss" {
			return "", fmt.Errorf("hostName %q: a path is for WSS only", host)
		}
		path = "/" + path
	}
	return scheme + "://" + hp + path, nil
}

// clientTLS builds the TLS configuration from the PEM parameters. Errors
// name the parameter, never its content.
func clientTLS(cfg MQTTConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TrustedCA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cfg.TrustedCA)) {
			return nil, errors.New("trustedCaCertficate: no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	if cfg.Certificate != "" || cfg.PrivateKey != "" {
		pair, err := tls.X509KeyPair([]byte(cfg.Certificate), []byte(cfg.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("certificate and privateKey: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// Send publishes the uplink's document with QoS 1 and waits for the PUBACK.
func (m *MQTT) Send(ctx context.Context, u *uplink.Uplink, late bool) error {
	c, lost, err := m.connect(ctx)
	if err != nil {
		return err
	}
	body := uplink.AppendDocument(make([]byte, 0, 1024), u, late, uplink.DocOptions{CustomerID: m.cfg.CustomerID})
	tok := c.Publish(m.topic.Expand(u), 1, false, body)
	t := time.NewTimer(m.cfg.ActionTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			m.drop(c)
			return &Error{Kind: Retry, Reason: "connection_lost", Err: fmt.Errorf("publish: %w", err)}
		}
		return nil
	case <-lost:
		m.drop(c)
		// The PUBACK may have come just before the connection went: then
		// the uplink is the broker's, and sending it again would repeat it.
		select {
		case <-tok.Done():
			if tok.Error() == nil {
				return nil
			}
		default:
		}
		return &Error{Kind: Retry, Reason: "connection_lost", Err: errors.New("the broker connection dropped before the PUBACK")}
	case <-t.C:
		// A broker that does not acknowledge within actionTimeout may be
		// gone without a FIN; a fresh connection is the way to find out.
		m.drop(c)
		return &Error{Kind: Retry, Reason: "timeout", Err: fmt.Errorf("no PUBACK within %v", m.cfg.ActionTimeout)}
	case <-ctx.Done():
		return &Error{Kind: Retry, Reason: "canceled", Err: ctx.Err()}
	}
}

// connect returns the connected client, connecting when there is none.
func (m *MQTT) connect(ctx context.Context) (paho.Client, chan struct{}, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil && m.client.IsConnectionOpen() {
		return m.client, m.lost, nil
	}
	if m.client != nil {
		go disconnect(m.client, 0)
		m.client = nil
	}
	if m.cfg.BeforeTLS != nil && !strings.HasPrefix(m.broker, "tcp://") {
		m.cfg.BeforeTLS()
	}
	lost := make(chan struct{})
	var once sync.Once
	opts := paho.NewClientOptions().
		AddBroker(m.broker).
		SetClientID(m.cfg.ClientID).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(m.cfg.ConnectTimeout).
		SetWriteTimeout(m.cfg.ActionTimeout).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(10 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			once.Do(func() { close(lost) })
			m.log.Warn("MQTT broker connection lost", "broker", m.broker, "err", err)
		})
	if m.tls != nil {
		opts.SetTLSConfig(m.tls.Clone())
	}
	if m.cfg.Username != "" {
		opts.SetUsername(m.cfg.Username)
		opts.SetPassword(m.cfg.Password)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	t := time.NewTimer(m.cfg.ConnectTimeout + time.Second) // paho's own timeout fires first
	defer t.Stop()
	select {
	case <-tok.Done():
	case <-t.C:
		go disconnect(c, 0)
		return nil, nil, &Error{Kind: Retry, Reason: "timeout", Err: fmt.Errorf("connect to %s: no answer within %v", m.broker, m.cfg.ConnectTimeout)}
	case <-ctx.Done():
		go disconnect(c, 0)
		return nil, nil, &Error{Kind: Retry, Reason: "canceled", Err: ctx.Err()}
	}
	if err := tok.Error(); err != nil {
		go disconnect(c, 0)
		return nil, nil, connectError(m.broker, err)
	}
	m.client, m.lost = c, lost
	m.log.Info("MQTT broker connected", "broker", m.broker, "client_id", m.cfg.ClientID)
	return c, lost, nil
}

// connectError classifies a failed connect: refused credentials (CONNACK
// 4 or 5, or a client certificate the broker rejects) are Unauthorized,
// the rest is retried.
func connectError(broker string, err error) *Error {
	e := fmt.Errorf("connect to %s: %w", broker, err)
	// crypto/tls reports a peer's alert as text ("remote error: tls: bad
	// certificate"); its alert type is not exported.
	msg := err.Error()
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return &Error{Kind: Unauthorized, Reason: "bad_credentials", Err: e}
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return &Error{Kind: Unauthorized, Reason: "not_authorized", Err: e}
	case strings.Contains(msg, "remote error: tls: bad certificate"), strings.Contains(msg, "remote error: tls: certificate required"),
		strings.Contains(msg, "remote error: tls: unknown certificate authority"):
		return &Error{Kind: Unauthorized, Reason: "client_certificate", Err: e}
	case errors.Is(err, packets.ErrorRefusedIDRejected), errors.Is(err, packets.ErrorRefusedServerUnavailable),
		errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return &Error{Kind: Retry, Reason: "connect_refused", Err: e}
	}
	return &Error{Kind: Retry, Reason: netReason(err), Err: e}
}

// drop forgets a client whose connection failed, so that the next Send
// connects afresh.
func (m *MQTT) drop(c paho.Client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == c {
		m.client = nil
	}
	go disconnect(c, 0) // may wait for paho's workers; the lane need not
}

// Close disconnects from the broker.
func (m *MQTT) Close() {
	m.mu.Lock()
	c := m.client
	m.client = nil
	m.mu.Unlock()
	if c != nil {
		disconnect(c, 250)
	}
}

// disconnect ends c, waiting at most a little longer than quiesce (ms):
// paho has had Disconnect hang when the connection died under it, and a
// stopping lane (a reload, a shutdown) must not hang with it.
func disconnect(c paho.Client, quiesce uint) {
	done := make(chan struct{})
	go func() {
		c.Disconnect(quiesce)
		close(done)
	}()
	t := time.NewTimer(time.Duration(quiesce)*time.Millisecond + 2*time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
