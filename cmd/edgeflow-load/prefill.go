package main

import (
	"context"
	"fmt"
	"time"

	"edgeflow/buffer"
	"edgeflow/config"
	"edgeflow/uplink"
)

// prefill writes n uplinks straight into the agent's buffer queue, in big
// transactions: building a backlog of a million over UDP and an outage
// would take far longer than draining it. They come from devices the
// agent does not know (prefillEUIByte), which is fine: the lane delivers
// what is queued without decoding frames again.
func prefill(path, maxSize string, n int) (time.Duration, error) {
	opts := buffer.Options{MaxBatch: 5000, CommitInterval: time.Second}
	if maxSize != "" {
		sz, err := config.ParseByteSize(maxSize)
		if err != nil {
			return 0, fmt.Errorf("--max-size: %w", err)
		}
		opts.MaxSize = int64(sz)
	}
	s, err := buffer.Open(path, opts)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	const batch = 5000
	recs := make([]buffer.Record, 0, batch)
	payload := make([]byte, 12)
	at := start.Add(-time.Hour)
	for i := 0; i < n; i++ {
		d := newDevice(i%1000, prefillEUIByte)
		up := uplink.Uplink{DevEUI: d.devEUI, DevAddr: d.devAddr, MType: 2, ADR: true, FCnt: uint32(i/1000) + 1,
			FPort: 1, Payload: payload, ReceivedAt: at.Add(time.Duration(i) * time.Millisecond),
			Frequency: 868.5, SF: 7, DataRate: "SF7BW125",
			Receptions: []uplink.Reception{{GatewayEUI: gatewayEUI, RSSI: -57, SNR: 9.5, Channel: 2}}}
		data, err := up.MarshalBinary()
		if err != nil {
			s.Close()
			return 0, err
		}
		recs = append(recs, buffer.Record{Time: up.ReceivedAt, Data: data})
		if len(recs) == batch || i == n-1 {
			if err := s.Append(context.Background(), queueID, recs); err != nil {
				s.Close()
				return 0, fmt.Errorf("prefill at %d: %w", i, err)
			}
			recs = recs[:0]
		}
	}
	took := time.Since(start)
	if st := s.Stats(queueID); st.Count != n {
		s.Close()
		return took, fmt.Errorf("prefill: the queue holds %d records, not %d (buffer.maxSize too small?)", st.Count, n)
	}
	return took, s.Close()
}
