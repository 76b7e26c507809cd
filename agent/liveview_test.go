package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/agent/api"
	"edgeflow/uplink"
)

// The ring keeps the last recentMax uplinks, oldest first in a replay,
// each with its last outcome per connection.
func TestRecentKeepsLastUplinks(t *testing.T) {
	var r liveRing
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	dev := lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 1}
	for i := range recentMax + 5 {
		r.addUplinks([]uplink.Uplink{{DevEUI: dev, FCnt: uint32(i), FPort: 1, Payload: []byte{0xab, byte(i)}, ReceivedAt: t0.Add(time.Duration(i) * time.Second),
			Receptions: []uplink.Reception{{GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1}, RSSI: -50}}}})
	}
	last := uint32(recentMax + 4)
	r.addDelivery("bench", dev, last, false, errors.New("first try"))
	r.addDelivery("bench", dev, last, true, nil) // replaces the earlier outcome
	r.addDelivery("backup", dev, last, false, errors.New("Post \"https://h/x?apikey=SECRET\": refused"))
	r.addDelivery("bench", dev, 1, false, nil) // no longer kept: ignored
	evs := r.events(func(id string) string { return "name of " + id }, func(lorawan.EUI64, []byte) []api.Reading { return nil })
	if len(evs) != recentMax+2 {
		t.Fatalf("%d events, want %d uplinks and 2 deliveries", len(evs), recentMax)
	}
	first := evs[0].Data // oldest kept: FCnt 5
	if u, ok := first.(api.UplinkEvent); !ok || u.FCnt != 5 || u.PayloadHex != "ab05" || u.DevEUI != "70B3D57ED0000001" || u.Gateway != "AA555A0000000101" {
		t.Fatalf("first event %+v", first)
	}
	d1, d2 := evs[len(evs)-2].Data.(api.DeliveryEvent), evs[len(evs)-1].Data.(api.DeliveryEvent)
	if !d1.OK || d1.Connection != "name of bench" || d2.OK || d2.Error == "" || strings.Contains(d2.Error, "SECRET") {
		t.Fatalf("deliveries %+v %+v", d1, d2)
	}
}

func BenchmarkRecentAddUplinks(b *testing.B) {
	var r liveRing
	ups := []uplink.Uplink{{FCnt: 1, FPort: 1, Payload: make([]byte, 20), ReceivedAt: time.Now(), Receptions: []uplink.Reception{{RSSI: -50}}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ups[0].FCnt = uint32(i)
		r.addUplinks(ups)
		r.addDelivery("c", ups[0].DevEUI, ups[0].FCnt, false, nil)
	}
}
