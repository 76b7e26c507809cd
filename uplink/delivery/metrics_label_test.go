package delivery

import (
	"bytes"
	"strings"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
)

// TestLabelEscaping: a connection's name is anyone's text (the API takes
// it); in a label it is escaped as Prometheus's text format wants, and
// never ends the label or the line.
func TestLabelEscaping(t *testing.T) {
	set := vm.NewSet()
	m := &metrics{set: set}
	m.failed("a\"b\\c\nd\te}\xff é", "http_500")
	var out bytes.Buffer
	set.WritePrometheus(&out)
	want := `edgeflow_delivery_failures_total{connection="a\"b\\c\nd` + "\t" + `e}` + "\uFFFD" + ` é",reason="http_500"} 1`
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
