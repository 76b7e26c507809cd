package buffer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func TestMetricsExposed(t *testing.T) {
	set := metrics.NewSet()
	s := openTest(t, Options{Metrics: set})
	rs := s.mustAppend(`a "quoted" name`, recs(4, 10, time.Unix(1, 0), "m")...)
	if err := s.Ack(`a "quoted" name`, seqsOf(rs[:1])); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expire(`a "quoted" name`, time.Unix(1, int64(2*time.Millisecond))); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	out := buf.String()
	for _, want := range []string{
		"edgeflow_buffer_appended_records_total 4",
		"edgeflow_buffer_acked_records_total 1",
		`edgeflow_buffer_dropped_total{reason="expired"} 1`,
		`edgeflow_buffer_queue_records{queue="a \"quoted\" name"} 2`,
		"edgeflow_buffer_commits_total 3",
		"edgeflow_buffer_written_bytes_total ",
		"edgeflow_buffer_file_bytes ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if err := s.DeleteQueue(`a "quoted" name`); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	set.WritePrometheus(&buf)
	if strings.Contains(buf.String(), "edgeflow_buffer_queue_records") {
		t.Errorf("depth gauge of a deleted queue still exported")
	}
}
