package buffer

import (
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// Drop reasons, used as metric labels and log values.
const (
	reasonFull       = "full"
	reasonExpired    = "expired"
	reasonDeadLetter = "dead_letter_dropped"
	reasonDeleted    = "queue_deleted"
	reasonChecksum   = "checksum mismatch"
)

type storeMetrics struct {
	set          *metrics.Set
	commits      *metrics.Counter
	appended     *metrics.Counter
	acked        *metrics.Counter
	written      *metrics.Counter // bytes bbolt wrote: allocated pages + meta page
	deadLettered *metrics.Counter
	replayed     *metrics.Counter
	damaged      *metrics.Counter
	compactions  *metrics.Counter
	corrupt      *metrics.Counter
	fileBytes    *metrics.Gauge
}

func newStoreMetrics(set *metrics.Set) *storeMetrics {
	return &storeMetrics{
		set:          set,
		commits:      set.GetOrCreateCounter("edgeflow_buffer_commits_total"),
		appended:     set.GetOrCreateCounter("edgeflow_buffer_appended_records_total"),
		acked:        set.GetOrCreateCounter("edgeflow_buffer_acked_records_total"),
		written:      set.GetOrCreateCounter("edgeflow_buffer_written_bytes_total"),
		deadLettered: set.GetOrCreateCounter("edgeflow_buffer_dead_lettered_total"),
		replayed:     set.GetOrCreateCounter("edgeflow_buffer_replayed_total"),
		damaged:      set.GetOrCreateCounter("edgeflow_buffer_damaged_files_total"),
		compactions:  set.GetOrCreateCounter("edgeflow_buffer_compactions_total"),
		corrupt:      set.GetOrCreateCounter("edgeflow_buffer_corrupt_records_total"),
		fileBytes:    set.GetOrCreateGauge("edgeflow_buffer_file_bytes", nil),
	}
}

func (m *storeMetrics) dropped(reason string) *metrics.Counter {
	return m.set.GetOrCreateCounter(`edgeflow_buffer_dropped_total{reason="` + reason + `"}`)
}

func (m *storeMetrics) depthName(queue string) string {
	return `edgeflow_buffer_queue_records{queue="` + labelEscape(queue) + `"}`
}

func (m *storeMetrics) depth(queue string) *metrics.Gauge {
	return m.set.GetOrCreateGauge(m.depthName(queue), nil)
}

// labelEscape escapes a Prometheus label value.
func labelEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
