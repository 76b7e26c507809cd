package main

import (
	"strconv"
	"strings"

	"edgeflow/agent/api"
)

// payloadText is a device's last payload for the status table: its
// readings ("temperature 23.7 °C, humidity 41.5 %"), else its hex
// (shortened), else "-".
func payloadText(d api.DeviceState) string {
	if len(d.Readings) > 0 {
		return readingsText(d.Readings)
	}
	if d.PayloadHex == "" {
		return "-"
	}
	h := d.PayloadHex
	if len(h) > 32 {
		h = h[:32] + "…"
	}
	s := "hex " + h
	if d.FPort != nil {
		s = "port " + strconv.Itoa(int(*d.FPort)) + " " + s
	}
	return s
}

// readingsText joins readings; a name on several channels gets its
// channel, so that two temperatures can be told apart.
func readingsText(rs []api.Reading) string {
	chans := map[string]map[uint8]bool{}
	for _, r := range rs {
		if chans[r.Name] == nil {
			chans[r.Name] = map[uint8]bool{}
		}
		chans[r.Name][r.Channel] = true
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Text
		if len(chans[r.Name]) > 1 {
			parts[i] += " (ch " + strconv.Itoa(int(r.Channel)) + ")"
		}
	}
	return strings.Join(parts, ", ")
}
