package config

import "slices"

// The keys of a list's items. The keys of the sections are the settings
// table's (settings.go); the items of connections and devices are IoT Flow
// objects whose keys depend on the connector, decoded by load.go.

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

// sectionsWith lists the schema paths of the mappings that know key, for
// telling a technician that a key is at the wrong indentation.
func sectionsWith(key string) []string {
	type sec struct {
		path string
		s    section
	}
	var all []sec
	t := table(settings())
	all = append(all, sec{"", t.keys("")})
	for _, s := range t {
		if s.section() {
			all = append(all, sec{s.Path, t.keys(s.Path)})
		}
	}
	all = append(all,
		sec{"connections[]", connectionKeys()},
		sec{"connections[].configuration", httpConfigurationKeys()},
		sec{"connections[].configuration", mqttConfigurationKeys()},
		sec{"devices[]", deviceKeys()},
	)
	var where []string
	for _, e := range all {
		if slices.Contains(e.s.known, key) && !slices.Contains(where, e.path) {
			where = append(where, e.path)
		}
	}
	return where
}
