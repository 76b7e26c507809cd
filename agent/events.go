package agent

import (
	"encoding/hex"
	"strings"

	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/uplink"
)

// publishUplinks tells the API's live view about decoded uplinks. It costs
// one atomic load when nobody watches.
func (a *Agent) publishUplinks(ups []uplink.Uplink) {
	a.live.addUplinks(ups)
	if !a.events.Active() {
		return
	}
	f := a.recent.formatsFor(a.config())
	for i := range ups {
		u := &ups[i]
		rs, _ := f.readings(u.DevEUI, u.Payload)
		ev := api.UplinkEvent{Readings: rs, DevEUI: strings.ToUpper(u.DevEUI.String()), DevAddr: strings.ToUpper(u.DevAddr.String()),
			FCnt: u.FCnt, FPort: u.FPort, Time: u.ReceivedAt, PayloadHex: hex.EncodeToString(u.Payload)}
		if len(u.Receptions) > 0 {
			r := u.Receptions[0]
			ev.RSSI, ev.SNR, ev.Gateway = r.RSSI, r.SNR, strings.ToUpper(r.GatewayEUI.String())
		}
		a.events.Publish("uplink", ev)
	}
}

// publishDelivery is delivery's OnResult hook: it runs on the connection's
// lane, so it must not block, and Publish never does.
func (a *Agent) publishDelivery(connID string, up *uplink.Uplink, late bool, err error) {
	a.live.addDelivery(connID, up.DevEUI, up.FCnt, late, err)
	if !a.events.Active() {
		return
	}
	ev := api.DeliveryEvent{DevEUI: strings.ToUpper(up.DevEUI.String()), FCnt: up.FCnt, ConnectionID: connID, OK: err == nil, Late: late,
		Connection: a.connectionName(connID)}
	if err != nil {
		ev.Error = config.Redact(err.Error())
	}
	a.events.Publish("delivery", ev)
}

// connectionName is the name of the connection in force with this id.
func (a *Agent) connectionName(id string) string {
	for _, c := range a.config().Connections {
		if c.ID == id {
			return c.Name
		}
	}
	return ""
}

// publishRejected is the decoder's OnReject hook: a technician who presses
// a device's button and watches the live view sees its frame refused, and
// why, instead of nothing.
func (a *Agent) publishRejected(r uplink.Rejected) {
	if !a.events.Active() {
		return
	}
	a.events.Publish("rejected", api.RejectedEvent{DevEUI: uplink.HexUpper(r.DevEUI[:]), DevAddr: uplink.HexUpper(r.DevAddr[:]),
		Reason: r.Reason, Hint: uplink.Hint(r.Reason), FCnt16: r.FCnt16, Time: r.At, RSSI: r.RSSI, SNR: r.SNR, Gateway: uplink.HexUpper(r.Gateway[:])})
}
