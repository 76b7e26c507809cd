package delivery

import (
	"fmt"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"
)

// label is a label value in Prometheus's text format, quoted: only the
// backslash, the double quote and the line feed are escaped there (Go's
// %q escapes more, in ways a scraper rejects), and a name with quotes
// must not end the label early.
func label(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return `"` + labelEscaper.Replace(s) + `"`
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// metrics counts deliveries per connection; labels are the connection's
// name and, for failures, the connector's snake_case reason.
type metrics struct{ set *vm.Set }

// deliveredCounters returns a connection's delivered counters, on time
// and late. A lane resolves them once: formatting the name and looking it
// up on every uplink was a measurable share of a delivery's CPU.
func (m *metrics) deliveredCounters(conn string) [2]*vm.Counter {
	var c [2]*vm.Counter
	for late := range c {
		c[late] = m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_delivered_total{connection=%s,late="%d"}`, label(conn), late))
	}
	return c
}

func (m *metrics) failed(conn, reason string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_failures_total{connection=%s,reason=%q}`, label(conn), reason)).Inc()
}

func (m *metrics) expired(conn string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_dropped_total{connection=%s,reason="expired"}`, label(conn))).Inc()
}

func (m *metrics) deadLettered(conn, reason string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_dead_lettered_total{connection=%s,reason=%q}`, label(conn), reason)).Inc()
}

func (m *metrics) unfixableTime(conn string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_unfixable_time_total{connection=%s}`, label(conn))).Inc()
}

func (m *metrics) spilled(conn string, n int) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_spilled_total{connection=%s}`, label(conn))).Add(n)
}
