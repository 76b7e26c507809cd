package delivery

import (
	"fmt"

	vm "github.com/VictoriaMetrics/metrics"
)

// metrics counts deliveries per connection; labels are the connection's
// name and, for failures, the connector's snake_case reason.
type metrics struct{ set *vm.Set }

// deliveredCounters returns a connection's delivered counters, on time
// and late. A lane resolves them once: formatting the name and looking it
// up on every uplink was a measurable share of a delivery's CPU.
func (m *metrics) deliveredCounters(conn string) [2]*vm.Counter {
	var c [2]*vm.Counter
	for late := range c {
		c[late] = m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_delivered_total{connection=%q,late="%d"}`, conn, late))
	}
	return c
}

func (m *metrics) failed(conn, reason string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_failures_total{connection=%q,reason=%q}`, conn, reason)).Inc()
}

func (m *metrics) expired(conn string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_dropped_total{connection=%q,reason="expired"}`, conn)).Inc()
}

func (m *metrics) deadLettered(conn, reason string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_dead_lettered_total{connection=%q,reason=%q}`, conn, reason)).Inc()
}

func (m *metrics) unfixableTime(conn string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_unfixable_time_total{connection=%q}`, conn)).Inc()
}

func (m *metrics) spilled(conn string, n int) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`edgeflow_delivery_spilled_total{connection=%q}`, conn)).Add(n)
}
