package agent

import (
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/uplink"
)

// BenchmarkRecord is what the charts and readings add to the frame path,
// per uplink.
func BenchmarkRecord(b *testing.B) {
	r := newRecent()
	ups := make([]uplink.Uplink, 8)
	for i := range ups {
		ups[i] = uplink.Uplink{DevEUI: lorawan.EUI64{0x70, 0xB3, 0xD5, 0x7E, 0xD0, 0, 0, byte(i)}, FPort: 2, Payload: []byte{3, 0x67, 0, 0xED},
			Receptions: []uplink.Reception{{GatewayEUI: lorawan.EUI64{0xAA, 0x55, 0x5A, 0, 0, 0, 1, 1}, RSSI: -80, SNR: 7}}}
	}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t := now.Add(time.Duration(i) * time.Millisecond)
		r.record(&t, ups)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ups)), "ns/uplink")
}
