package agent

import (
	"encoding/hex"
	"sync"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/agent/api"
	"edgeflow/config"
	"edgeflow/uplink"
)

// recentMax is how many uplinks the Live page shows when it opens: a
// technician who walks up to a device and presses its button looks at the
// page afterwards.
const recentMax = 50

// recentDeliveries bounds the outcomes kept per uplink: one per connection,
// and gateways have a handful.
const recentDeliveries = 8

// liveRing keeps the last uplinks and the outcome of their delivery to each
// connection, in raw form, so that the uplink path pays a copy and no
// allocation; events are built only when a page asks.
type liveRing struct {
	mu   sync.Mutex
	ring [recentMax]recentUplink
	next int // where the next uplink goes
	n    int
}

type recentUplink struct {
	devEUI  lorawan.EUI64
	devAddr lorawan.DevAddr
	fcnt    uint32
	fport   uint8
	at      time.Time
	rssi    float64
	snr     float64
	gateway lorawan.EUI64
	plen    int
	payload [255]byte // LoRaWAN's largest MACPayload bounds the FRMPayload
	nd      int
	dels    [recentDeliveries]recentDelivery
}

type recentDelivery struct {
	connID   string
	ok, late bool
	err      string
}

func (r *liveRing) addUplinks(ups []uplink.Uplink) {
	if len(ups) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range ups {
		u := &ups[i]
		e := &r.ring[r.next]
		// Zeroed, then filled in place: a composite literal was built
		// aside and copied whole (over 400 bytes), and so was the
		// Reception, each a runtime call on 32-bit ARM.
		*e = recentUplink{}
		e.devEUI, e.devAddr, e.fcnt, e.fport, e.at = u.DevEUI, u.DevAddr, u.FCnt, u.FPort, u.ReceivedAt
		e.plen = copy(e.payload[:], u.Payload)
		if len(u.Receptions) > 0 {
			rc := &u.Receptions[0]
			e.rssi, e.snr, e.gateway = rc.RSSI, rc.SNR, rc.GatewayEUI
		}
		r.next = (r.next + 1) % recentMax
		r.n = min(r.n+1, recentMax)
	}
}

// addDelivery records an attempt's outcome on its uplink, the last one
// per connection; an uplink no longer kept is not looked for long.
func (r *liveRing) addDelivery(connID string, dev lorawan.EUI64, fcnt uint32, late bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := 1; k <= r.n; k++ { // newest first: deliveries follow their uplink closely
		e := &r.ring[(r.next-k+recentMax)%recentMax]
		if e.fcnt != fcnt || e.devEUI != dev { // the counter first: an EUI compare is a runtime call on 32-bit ARM
			continue
		}
		d := recentDelivery{connID: connID, ok: err == nil, late: late}
		if err != nil {
			d.err = config.Redact(err.Error())
		}
		for i := range e.nd {
			if e.dels[i].connID == connID {
				e.dels[i] = d
				return
			}
		}
		if e.nd < recentDeliveries {
			e.dels[e.nd] = d
			e.nd++
		}
		return
	}
}

// events replays what is kept as the live stream would have sent it,
// oldest first: each uplink, then its deliveries.
func (r *liveRing) events(connName func(id string) string, readings func(eui lorawan.EUI64, payload []byte) []api.Reading) []api.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.Event, 0, r.n*2)
	for k := r.n; k >= 1; k-- {
		e := &r.ring[(r.next-k+recentMax)%recentMax]
		eui := uplink.HexUpper(e.devEUI[:])
		out = append(out, api.Event{Name: "uplink", Data: api.UplinkEvent{Readings: readings(e.devEUI, e.payload[:e.plen]), DevEUI: eui, DevAddr: uplink.HexUpper(e.devAddr[:]),
			FCnt: e.fcnt, FPort: e.fport, Time: e.at, RSSI: e.rssi, SNR: e.snr,
			PayloadHex: hex.EncodeToString(e.payload[:e.plen]), Gateway: uplink.HexUpper(e.gateway[:])}})
		for _, d := range e.dels[:e.nd] {
			out = append(out, api.Event{Name: "delivery", Data: api.DeliveryEvent{DevEUI: eui, FCnt: e.fcnt, ConnectionID: d.connID,
				Connection: connName(d.connID), OK: d.ok, Late: d.late, Error: d.err}})
		}
	}
	return out
}
