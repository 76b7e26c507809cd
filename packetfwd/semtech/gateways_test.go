package semtech

import (
	"net/netip"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
)

// Spoofed EUIs must not grow the registry without bound; the gateway heard
// from longest ago makes room.
func TestRegistryBounded(t *testing.T) {
	r := newRegistry(2)
	src := netip.MustParseAddrPort("127.0.0.1:1000")
	for i := range 3 {
		r.pushData(&gwmp.PushDataPacket{Version: 2, GatewayEUI: lorawan.EUI64{byte(i)}}, &src, ptr(recvTime.Add(time.Duration(i)*time.Second)))
	}
	gws := r.list()
	if len(gws) != 2 || gws[0].EUI != (lorawan.EUI64{1}) || gws[1].EUI != (lorawan.EUI64{2}) {
		t.Fatalf("gateways %+v", gws)
	}
	// A PULL_DATA refreshes a gateway, so the other one goes next.
	r.pullData(lorawan.EUI64{1}, 2, src, recvTime.Add(time.Minute))
	r.pullData(lorawan.EUI64{3}, 1, src, recvTime.Add(time.Minute))
	if gws := r.list(); len(gws) != 2 || gws[0].EUI != (lorawan.EUI64{1}) || gws[1].EUI != (lorawan.EUI64{3}) {
		t.Fatalf("gateways %+v", gws)
	}
}

// A stat without a fix keeps the last position; 0,0 is no fix.
func TestRegistryPositionSticks(t *testing.T) {
	r := newRegistry(8)
	src := netip.MustParseAddrPort("127.0.0.1:1000")
	lat, lon, zero := 52.0, 5.0, 0.0
	p := &gwmp.PushDataPacket{Payload: gwmp.PushDataPayload{Stat: &gwmp.Stat{Lati: &lat, Long: &lon}}}
	if pos, ok := r.pushData(p, &src, &recvTime); !ok || pos != (Position{52, 5, 0}) {
		t.Fatalf("first fix: %v %v", pos, ok)
	}
	p.Payload.Stat = &gwmp.Stat{Lati: &zero, Long: &zero}
	if pos, ok := r.pushData(p, &src, &recvTime); !ok || pos != (Position{52, 5, 0}) {
		t.Fatalf("after 0,0: %v %v", pos, ok)
	}
}
