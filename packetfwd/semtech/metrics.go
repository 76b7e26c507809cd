package semtech

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"

	"edgeflow/packetfwd/gwmp"
)

// Reasons a whole datagram is dropped (edgeflow_udp_dropped_total). The
// first ones are the codec's; a PUSH_DATA dropped for no_json or bad_json
// is still acknowledged, since its header was valid.
var datagramDropReasons = []string{
	"too_short", "unknown_version", "unknown_type", "wrong_type", "no_json", "bad_json",
	"unexpected_type", // PUSH_ACK, PULL_ACK or PULL_RESP sent to us by a forwarder
	"panic",           // a bug, recovered: the batch's PUSH_DATA go unacked, later batches do not
	"other",
}

// Reasons one rxpk is dropped (edgeflow_udp_rxpk_dropped_total).
var rxpkDropReasons = []string{
	"crc_error",     // stat -1
	"no_crc",        // stat 0
	"bad_stat",      // any other stat
	"bad_base64",    // data is not base64
	"empty_payload", // data decodes to nothing
	"bad_datr",      // LoRa without a "SFxBWy" data rate
	"bad_rsig",      // more antennas than any gateway has
	"other",
}

// udpMetrics are the server's counters. Counters for every known label are
// created up front, so that a scrape shows zeros and the hot path does no
// map writes.
type udpMetrics struct {
	set           *metrics.Set
	received      [6]*metrics.Counter // by gwmp.Type
	dropped       map[string]*metrics.Counter
	rxpk          *metrics.Counter
	rxpkDropped   map[string]*metrics.Counter
	frames        *metrics.Counter
	pushAcks      *metrics.Counter
	pullAcks      *metrics.Counter
	sendErrors    *metrics.Counter
	handlerErrors *metrics.Counter
	txAckErrors   *metrics.Counter
}

func newUDPMetrics(set *metrics.Set) *udpMetrics {
	m := &udpMetrics{
		set:           set,
		dropped:       make(map[string]*metrics.Counter),
		rxpkDropped:   make(map[string]*metrics.Counter),
		rxpk:          set.GetOrCreateCounter("edgeflow_udp_rxpk_received_total"),
		frames:        set.GetOrCreateCounter("edgeflow_udp_frames_total"),
		pushAcks:      set.GetOrCreateCounter(`edgeflow_udp_acks_sent_total{type="push_ack"}`),
		pullAcks:      set.GetOrCreateCounter(`edgeflow_udp_acks_sent_total{type="pull_ack"}`),
		sendErrors:    set.GetOrCreateCounter("edgeflow_udp_send_errors_total"),
		handlerErrors: set.GetOrCreateCounter("edgeflow_udp_handler_errors_total"),
		txAckErrors:   set.GetOrCreateCounter("edgeflow_udp_tx_ack_errors_total"),
	}
	for t := range m.received {
		m.received[t] = set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_udp_packets_received_total{type=%q}`, gwmp.Type(t)))
	}
	for _, r := range datagramDropReasons {
		m.dropped[r] = set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_udp_dropped_total{reason=%q}`, r))
	}
	for _, r := range rxpkDropReasons {
		m.rxpkDropped[r] = set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_udp_rxpk_dropped_total{reason=%q}`, r))
	}
	return m
}

// drop counts a dropped datagram; unknown reasons count as "other" so that
// no input can create new series.
func (m *udpMetrics) drop(reason string) {
	c, ok := m.dropped[reason]
	if !ok {
		c = m.dropped["other"]
	}
	c.Inc()
}

func (m *udpMetrics) dropRXPK(reason string) {
	c, ok := m.rxpkDropped[reason]
	if !ok {
		c = m.rxpkDropped["other"]
	}
	c.Inc()
}
