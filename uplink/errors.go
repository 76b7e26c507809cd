package uplink

import (
	"errors"

	"github.com/VictoriaMetrics/metrics"
)

// Reasons a frame is not forwarded. Each error's text is its label in
// edgeflow_uplink_dropped_total{reason="…"}.
var (
	ErrBadCRC         = errors.New("bad_crc")         // the radio reported a CRC error (stat ≠ 1)
	ErrBadFrame       = errors.New("bad_frame")       // not a LoRaWAN 1.0 frame we can parse
	ErrJoinRequest    = errors.New("join_request")    // join or rejoin request
	ErrDownlink       = errors.New("downlink")        // a downlink heard by the gateway
	ErrProprietary    = errors.New("proprietary")     // MType 7
	ErrUnknownDevAddr = errors.New("unknown_devaddr") // no session has this DevAddr
	ErrMICFailure     = errors.New("mic_failure")     // no session's key verifies the MIC
	ErrFCntReplay     = errors.New("fcnt_replay")     // counter not above the last accepted one
	ErrFCntGap        = errors.New("fcnt_gap")        // LoRaWAN 1.1: a jump too far for a 16-bit MIC check alone
	ErrMACOnly        = errors.New("mac_only")        // FPort 0 or no FPort: nothing for the application
	ErrDuplicate      = errors.New("duplicate")       // already delivered within the de-duplication window
)

// DropReasons lists every drop reason, in a fixed order.
var DropReasons = []error{
	ErrBadCRC, ErrBadFrame, ErrJoinRequest, ErrDownlink, ErrProprietary,
	ErrUnknownDevAddr, ErrMICFailure, ErrFCntReplay, ErrFCntGap, ErrMACOnly, ErrDuplicate,
}

// Metric names.
const (
	MetricDropped   = "edgeflow_uplink_dropped_total"
	MetricForwarded = "edgeflow_uplink_forwarded_total"
)

// counters are created up front so that every reason shows, at zero, from
// the start, and the hot path does no name lookup.
type counters struct {
	dropped   map[error]*metrics.Counter
	forwarded *metrics.Counter
}

func newCounters(set *metrics.Set) counters {
	c := counters{dropped: make(map[error]*metrics.Counter, len(DropReasons))}
	for _, r := range DropReasons {
		// GetOrCreate so that a Decoder rebuilt on reload may share the set.
		c.dropped[r] = set.GetOrCreateCounter(MetricDropped + `{reason="` + r.Error() + `"}`)
	}
	c.forwarded = set.GetOrCreateCounter(MetricForwarded)
	return c
}
