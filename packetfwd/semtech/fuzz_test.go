package semtech

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/radio"
)

// FuzzFramesFromPushData feeds arbitrary PUSH_DATA JSON through the decoder
// and the rxpk → Frame conversion. Seeds: testdata/fuzz/FuzzFramesFromPushData.
func FuzzFramesFromPushData(f *testing.F) {
	f.Fuzz(func(t *testing.T, js []byte) {
		var p gwmp.PushDataPacket
		if err := p.UnmarshalBinary(pkt(2, "0001", 0, "0102030405060708", string(js))); err != nil {
			return
		}
		// Every rxpk turns into frames or into exactly one drop.
		wantFrames, drops := 0, 0
		frames := framesFromPushData(&p, &recvTime, Position{1, 2, 3}, true, new(loraRates), func(reason string, rx *gwmp.RXPK, _ error) {
			if !slices.Contains(rxpkDropReasons, reason) {
				t.Fatalf("unknown drop reason %q", reason)
			}
			drops++
		})
		for i := range p.Payload.RXPK {
			wantFrames += max(1, len(p.Payload.RXPK[i].RSig))
		}
		if len(frames) > wantFrames || (len(frames) == 0) != (drops == len(p.Payload.RXPK)) {
			t.Fatalf("%d frames and %d drops from %d rxpk", len(frames), drops, len(p.Payload.RXPK))
		}
		for i, fr := range frames {
			if len(fr.PHYPayload) == 0 || cap(fr.PHYPayload) != len(fr.PHYPayload) {
				t.Fatalf("frame %d payload len %d cap %d", i, len(fr.PHYPayload), cap(fr.PHYPayload))
			}
			if fr.CRCStatus != 1 || fr.GatewayEUI != (lorawan.EUI64{1, 2, 3, 4, 5, 6, 7, 8}) || !fr.HasPosition {
				t.Fatalf("frame %d: %+v", i, fr)
			}
			if fr.Modulation == "LORA" && (fr.SF < 5 || fr.SF > 12 || fr.Bandwidth <= 0) {
				t.Fatalf("LoRa frame %d without SF/BW: %+v", i, fr)
			}
			if !fr.GPSTime && !fr.Time.Equal(recvTime) {
				t.Fatalf("frame %d: time %v without GPS", i, fr.Time)
			}
			// Payloads must not share memory: scribbling on one leaves the
			// others as they were.
			if i > 0 {
				before := bytes.Clone(frames[i-1].PHYPayload)
				for j := range fr.PHYPayload {
					fr.PHYPayload[j] ^= 0xff
				}
				if !bytes.Equal(before, frames[i-1].PHYPayload) {
					t.Fatalf("frames %d and %d share a payload", i-1, i)
				}
			}
		}
	})
}

// FuzzHandleDatagram runs whole datagrams through the server's datagram
// path, a reader of its own (without a socket: acks fail and are counted), with an upstream configured so that
// the relay's path (copy, EUI and token routing, queueing) runs too; not
// started, its queue fills and then drops. The server recovers from panics,
// so the check is that it never had to.
// Seeds: testdata/fuzz/FuzzHandleDatagram.
func FuzzHandleDatagram(f *testing.F) {
	set := metrics.NewSet()
	srv := newServer(Config{Upstreams: []string{"127.0.0.1:1700", "localhost:1700"}, RateLimit: RateLimit{PerSecond: -1}}, radio.HandlerFunc(func(_ context.Context, frames []radio.Frame) error {
		if len(frames) == 0 {
			return errors.New("handler called without frames")
		}
		return nil
	}), nil, set)
	panics := set.GetOrCreateCounter(`edgeflow_udp_dropped_total{reason="panic"}`)
	handlerErrors := set.GetOrCreateCounter("edgeflow_udp_handler_errors_total")
	src := netip.MustParseAddrPort("127.0.0.1:1700")
	r := newReader(srv, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		r.handleOne(context.Background(), b, src)
		if panics.Get() != 0 || handlerErrors.Get() != 0 {
			t.Fatalf("panics %d, handler errors %d", panics.Get(), handlerErrors.Get())
		}
		if len(srv.Gateways()) > srv.cfg.MaxGateways {
			t.Fatalf("%d gateways", len(srv.Gateways()))
		}
	})
}
