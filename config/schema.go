package config

import (
	"slices"
	"strconv"
)

// The keys of each mapping in the file. They are the contract of the design
// brief; add a key here and in the walk of load.go together.

func topKeys() section {
	return section{known: []string{"gateway", "packetForwarder", "buffer", "delivery", "api", "log", "connections", "devices", "devicesFile"}}
}

func gatewayKeys() section {
	return section{known: []string{"id", "latitude", "longitude", "altitude"}}
}

func packetForwarderKeys() section { return section{known: []string{"udp", "mqtt"}} }

func udpKeys() section {
	return section{known: []string{"bind", "upstreams", "allow", "gatewayEUIs", "rateLimit"}}
}

func mqttKeys() section {
	return section{known: []string{"server", "topics", "username", "password", "caFile"}}
}

func bufferKeys() section { return section{known: []string{"path", "persist", "maxSize"}} }

func deliveryKeys() section {
	return section{known: []string{"retryMin", "retryMax", "drainRate", "spillAfter", "timeout", "mergeWindow", "concurrency"},
		ignored: map[string]string{"pipeline": "HTTP/1.1 pipelining is gone; delivery.concurrency (requests in flight per connection, default " +
			strconv.Itoa(DefaultConcurrency) + ") replaced it"}}
}

func apiKeys() section { return section{known: []string{"bind", "token", "hosts", "caFileDir"}} }

func logKeys() section { return section{known: []string{"level"}} }

// connectionKeys are IoT Flow's common parameters; the ignored ones appear
// in objects copied from IoT Flow's GET /connections or its documentation.
func connectionKeys() section {
	return section{
		known: []string{"id", "name", "connectorId", "brand", "active", "configuration"},
		ignored: map[string]string{
			"alarms": "edgeflow raises no low-rate alarms; watch /metrics instead",
		},
		readOnly: ReadOnlyConnectionKeys(),
	}
}

// ReadOnlyConnectionKeys are the keys of a connection as IoT Flow's API
// and edgeflow's own GET /connections/{id} answer it that are not
// configuration: state, history, delivery counters.
func ReadOnlyConnectionKeys() []string {
	return []string{
		// IoT Flow
		"state", "startupTime", "createdBy", "creationTime", "lastUpdatedBy", "lastUpdateTime", "subscriberId",
		// edgeflow (api.ConnectionState)
		"reason", "lastDelivery", "lastError", "lastErrorTime", "delivered", "backlog", "backlogBytes", "oldestAge", "deadLetters",
	}
}

// commonConfigurationKeys are the parameters every connector takes: IoT
// Flow's common ones, and customerId, edgeflow's, since there is no
// subscriber to take it from.
func commonConfigurationKeys() []string {
	return []string{"description", "uplinkTimeValidity", "reconnectStrategy", "customerId"}
}

// commonIgnoredKeys are IoT Flow features edgeflow does not have; the
// operator is told so rather than left to wonder.
func commonIgnoredKeys() map[string]string {
	return map[string]string{
		"createDevices":        "the cloud decides whether unknown devices are created",
		"sendMetadata":         "edgeflow always sends the DevEUI_uplink document",
		"sendRawDecodedFormat": "edgeflow always sends the DevEUI_uplink document",
		"downlinkEnabled":      "edgeflow does not take downlinks from the cloud",
		"downlinkAsId":         "edgeflow does not take downlinks from the cloud",
		"downlinkAsKey":        "edgeflow does not take downlinks from the cloud",
		"downlinkPort":         "edgeflow does not take downlinks from the cloud",
		"debugMode":            "use log.level: debug",
	}
}

// httpConfigurationKeys are actility-http-iot's parameters. asId and
// lrnInfos are edgeflow's: ThingPark fills them in from its provisioning.
func httpConfigurationKeys() section {
	ig := commonIgnoredKeys()
	ig["blamePeriod"] = "edgeflow retries with backoff instead"
	ig["strictMode"] = "edgeflow always keeps and retries what the endpoint did not accept"
	return section{
		known: append(commonConfigurationKeys(), "destinationURL", "headers",
			"lrcCompliance", "tunnelInterfaceAuthenticationKey", "asId", "lrnInfos", "proxy", "caFile"),
		ignored: ig,
	}
}

// mqttConfigurationKeys are actility-mqtt-iot's parameters.
// trustedCaCertficate is IoT Flow's spelling; the correct one is accepted
// too, since a technician typing it will spell it right.
func mqttConfigurationKeys() section {
	ig := commonIgnoredKeys()
	ig["downlinkTopicPattern"] = "edgeflow does not take downlinks from the cloud"
	return section{
		known: append(commonConfigurationKeys(), "hostName", "protocol", "username", "password", "uplinkTopicPattern",
			"trustedCaCertficate", "trustedCaCertificate", "certificate", "privateKey", "connectionTimeout", "actionTimeout"),
		ignored: ig,
	}
}

func proxyKeys() section { return section{known: []string{"hostname", "username", "password"}} }

func deviceKeys() section {
	return section{known: []string{"devEUI", "devAddr", "nwkSKey", "appSKey", "joinEUI", "appEUI", "appKey", "nwkKey", "name", "relaxFCnt", "payloadFormat"}}
}

// sectionsWith lists the schema paths of the mappings that know key, for
// telling a technician that a key is at the wrong indentation.
func sectionsWith(key string) []string {
	all := []struct {
		path string
		s    section
	}{
		{"", topKeys()},
		{"gateway", gatewayKeys()},
		{"packetForwarder", packetForwarderKeys()},
		{"packetForwarder.udp", udpKeys()},
		{"packetForwarder.mqtt", mqttKeys()},
		{"buffer", bufferKeys()},
		{"delivery", deliveryKeys()},
		{"api", apiKeys()},
		{"log", logKeys()},
		{"connections[]", connectionKeys()},
		{"connections[].configuration", httpConfigurationKeys()},
		{"connections[].configuration", mqttConfigurationKeys()},
		{"devices[]", deviceKeys()},
	}
	var where []string
	for _, e := range all {
		if slices.Contains(e.s.known, key) && !slices.Contains(where, e.path) {
			where = append(where, e.path)
		}
	}
	return where
}
