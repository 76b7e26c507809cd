package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"edgeflow/agent/api"
)

// The status table shows a device's last readings, or its payload in hex.
func TestStatusReadings(t *testing.T) {
	now := time.Now()
	port := uint8(2)
	st := api.Status{Devices: []api.DeviceState{
		{DevEUI: "70B3D57ED0000001", SessionKnown: true, LastUplink: &now, PayloadHex: "036700ed0568530567010e", Readings: []api.Reading{
			{Channel: 3, Name: "temperature", Text: "temperature 23.7 °C"}, {Channel: 5, Name: "humidity", Text: "humidity 41.5 %"},
			{Channel: 5, Name: "temperature", Text: "temperature 27.0 °C"}}},
		{DevEUI: "70B3D57ED0000002", SessionKnown: true, LastUplink: &now, FPort: &port, PayloadHex: "0100e2"},
		{DevEUI: "70B3D57ED0000003"},
	}}
	var out bytes.Buffer
	printStatus(&out, st, now)
	for _, want := range []string{"LAST PAYLOAD", "temperature 23.7 °C (ch 3), humidity 41.5 %, temperature 27.0 °C (ch 5)", "port 2 hex 0100e2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}
