package config

// Brand is an IoT Flow connection brand: a connector preset whose
// destination the cloud prescribes (reference §2.3).
type Brand struct {
	Name        string // as written in "brand", e.g. "CAYENNE"
	ConnectorID string // the connector the brand runs on
	// URL is the destination the brand prescribes. When URLIsPrefix is
	// false it is complete, and a connection may leave destinationURL out.
	// When true the operator completes it (an API key, an instance name).
	URL         string
	URLIsPrefix bool
	// Header names a header the cloud needs (e.g. Datacake's token).
	Header string
}

// Brands returns the brands edgeflow knows, in IoT Flow's order. The slice is
// new on each call, so callers may keep or change it.
func Brands() []Brand {
	return []Brand{
		{Name: BrandCayenne, ConnectorID: ConnectorHTTP, URL: CayenneURL},
		{Name: "COMMONSENSE", ConnectorID: ConnectorHTTP, URL: "https://cs-vm2m.net/com/http?idName=DevEUI_uplink+DevEUI"},
		{Name: "DATACAKE", ConnectorID: ConnectorHTTP, URL: "https://api.datacake.co/integrations/lorawan/actility", Header: "Authorization"},
		{Name: "GEAR_STUDIO", ConnectorID: ConnectorHTTP, URL: "https://", URLIsPrefix: true},
		{Name: "GINJER", ConnectorID: ConnectorHTTP, URL: "https://prodapi.ginjer.io/notify"},
		{Name: "NOMOSENSE", ConnectorID: ConnectorHTTP, URL: "https://iot.nomosense.com/api/lora/message/actility-tpe?apikey=", URLIsPrefix: true},
		{Name: "OPINUM", ConnectorID: ConnectorHTTP, URLIsPrefix: true},
		{Name: "QUBITRO", ConnectorID: ConnectorHTTP, URL: "https://webhook.qubitro.com/integrations/actility"},
		{Name: "TAGO", ConnectorID: ConnectorHTTP, URL: "https://actility.middleware.tago.io/uplink?authorization=", URLIsPrefix: true},
		{Name: "UNABIZ", ConnectorID: ConnectorHTTP, URL: "https://network.unaconnect.io/actility/data"},
		{Name: "WIDGELIX", ConnectorID: ConnectorHTTP, URL: "https://app.widgelix.com/v1/input-node/actility"},
		{Name: "WMW", ConnectorID: ConnectorMQTT},
	}
}

// LookupBrand finds a brand by its exact name.
func LookupBrand(name string) (Brand, bool) {
	for _, b := range Brands() {
		if b.Name == name {
			return b, true
		}
	}
	return Brand{}, false
}

// BrandURL is the destination a connection of this brand uses when its
// configuration gives none: the prescribed URL, or "" when the brand has no
// complete one.
func BrandURL(name string) string {
	b, ok := LookupBrand(name)
	if !ok || b.URLIsPrefix {
		return ""
	}
	return b.URL
}

func brandNames() []string {
	var names []string
	for _, b := range Brands() {
		names = append(names, b.Name)
	}
	return names
}

// Connectors returns the connector ids edgeflow implements.
func Connectors() []string { return []string{ConnectorHTTP, ConnectorMQTT} }

// iotFlowConnectors are IoT Flow connectors edgeflow does not implement; a
// technician who pastes one learns that, rather than "unknown".
func iotFlowConnectors() []string {
	return []string{
		"actility-aws-iot", "actility-aws-iot-greengrass", "actility-azure-iot",
		"actility-azure-event-hub", "actility-azure-iot-central", "actility-azure-iot-edge",
		"actility-amqp-0.9.1-iot", "actility-advantech-iot", "actility-arduino-pro-iot",
		"actility-cumulocity-iot", "actility-google-iot", "actility-here-iot", "actility-watson-iot",
		"actility-kafka-iot", "actility-microsoft-teams", "actility-modbus-iot", "actility-opcua-iot",
		"actility-splunk-iot", "actility-thingsboard-iot", "actility-thingworx-iot", "actility-yandex-iot",
	}
}

// ReconnectStrategies are IoT Flow's values of reconnectStrategy. Left out,
// edgeflow retries with its own fast backoff (delivery.retryMin/retryMax)
// rather than IoT Flow's default NORMAL, whose first retry comes after 5
// minutes: a gateway's backlog should drain within seconds of recovery.
func ReconnectStrategies() []string { return []string{"CALM", "NORMAL", "AGGRESSIVE"} }
