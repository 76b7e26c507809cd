package config

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
)

// MQTTProtocols are actility-mqtt-iot's values of protocol.
func MQTTProtocols() []string { return []string{ProtocolTCP, ProtocolSSL, ProtocolWSS} }

// MQTTProtocol is the connection's protocol, upper-cased; TCP when none is
// given, as a plain broker on 1883 is the commonest test bench.
func (c ConnectionConfiguration) MQTTProtocol() string {
	if c.Protocol == "" {
		return ProtocolTCP
	}
	return strings.ToUpper(c.Protocol)
}

func checkMQTTConnection(ch *checker, p string, cn Connection) {
	cfg := cn.Configuration
	cp := p + ".configuration"
	checkBrand(ch, p, cn)
	proto := cfg.MQTTProtocol()
	protoOK := true
	if !contains(MQTTProtocols(), proto) {
		ch.problem(cp+".protocol", "%s", oneOf("protocol", cfg.Protocol, MQTTProtocols()))
		protoOK = false
	}
	hp := cp + ".hostName"
	switch h := cfg.HostName; {
	case h == "":
		ch.problem(hp, "hostName is required: the broker's host:port, e.g. broker.example.com:8883")
	case strings.Contains(h, "://"):
		ch.problem(hp, "hostName is host:port without a scheme (%q); protocol says TCP, SSL or WSS", clip(redactLoose(h)))
	case strings.ContainsAny(h, " \t\r\n"):
		ch.problem(hp, "hostName %q contains spaces", clip(redactLoose(h)))
	}
	if t := cfg.UplinkTopicPattern; t != "" {
		tp := cp + ".uplinkTopicPattern"
		if strings.ContainsAny(t, "+#") {
			ch.problem(tp, "uplinkTopicPattern %q holds a wildcard (+ or #); a topic to publish to may not", clip(t))
		} else if msg := checkPattern(t); msg != "" {
			ch.problem(tp, "uplinkTopicPattern: %s", msg)
		}
	}
	for _, k := range []struct {
		key string
		ms  int
	}{{"connectionTimeout", cfg.ConnectionTimeout}, {"actionTimeout", cfg.ActionTimeout}} {
		if k.ms > MaxMQTTTimeout {
			ch.problem(cp+"."+k.key, "%s is at most %d milliseconds (IoT Flow's limit), got %d", k.key, MaxMQTTTimeout, k.ms)
		}
	}
	if cfg.Password != "" && cfg.Username == "" {
		ch.warn(cp+".password", "password is given without a username; MQTT sends a password only with a username")
	}
	checkMQTTTLS(ch, cp, cfg, proto, protoOK)
}

// checkMQTTTLS checks the PEM parameters. Messages never quote them: a
// private key must not reach a terminal or a log.
func checkMQTTTLS(ch *checker, cp string, cfg ConnectionConfiguration, proto string, protoOK bool) {
	caPath := cp + ".trustedCaCertficate"
	if !ch.has(caPath, false) && ch.has(cp+".trustedCaCertificate", false) {
		caPath = cp + ".trustedCaCertificate"
	}
	if protoOK && proto == ProtocolTCP {
		for k, v := range map[string]string{caPath: cfg.TrustedCACertificate, cp + ".certificate": cfg.Certificate, cp + ".privateKey": cfg.PrivateKey} {
			if ch.has(k, v != "") {
				ch.warn(k, "%s is used only with protocol SSL or WSS; it is ignored with TCP", last(k))
			}
		}
		return
	}
	if ca := cfg.TrustedCACertificate; ca != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(ca)) {
		ch.problem(caPath, "trustedCaCertficate holds no PEM certificate (-----BEGIN CERTIFICATE----- …)")
	}
	switch c, k := cfg.Certificate, cfg.PrivateKey; {
	case c == "" && k == "":
	case c == "":
		ch.problem(cp+".certificate", "privateKey is given without its certificate; give both or neither")
	case k == "":
		ch.problem(cp+".privateKey", "certificate is given without its privateKey; give both or neither")
	default:
		if _, err := tls.X509KeyPair([]byte(c), []byte(k)); err != nil {
			ch.problem(cp+".certificate", "certificate and privateKey do not make a client certificate: %s", tlsPairReason(err))
		}
	}
}

// tlsPairReason shortens crypto/tls's error, which names no key material.
func tlsPairReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "tls: ")
	return s
}
