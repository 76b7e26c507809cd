package delivery

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"edgeflow/buffer"
	"edgeflow/uplink"
	"edgeflow/uplink/connector"
)

// With persist "always", one datagram's uplinks for every connection and
// the caller's own writes are one commit; on-outage, the caller's writes
// alone are.
func TestEnqueueWithCommitsOnce(t *testing.T) {
	for _, persist := range []string{PersistAlways, PersistOnOutage} {
		t.Run(persist, func(t *testing.T) {
			set := vm.NewSet()
			st, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), buffer.Options{Metrics: set})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			commits := set.GetOrCreateCounter("edgeflow_buffer_commits_total")
			m := NewManager(st, Options{Persist: persist, SpillAfter: time.Hour}, nil, nil)
			var conns []Connection
			for _, id := range []string{"a", "b", "c"} {
				// Inactive: the lanes keep what they get and send nothing.
				h, _ := connector.NewHTTP(connector.HTTPConfig{URL: "http://127.0.0.1:1/"}, nil)
				conns = append(conns, Connection{ID: id, Name: id, Connector: h, Inactive: true})
			}
			m.Start(context.Background(), conns)
			defer m.Stop(context.Background())

			before := commits.Get()
			var b buffer.Batch
			b.States(buffer.StateWrite{Bucket: "counters", KV: map[string][]byte{"dev": {7}}})
			ups := []uplink.Uplink{testUplink(1), testUplink(2)}
			if err := m.EnqueueWith(context.Background(), ups, &b); err != nil {
				t.Fatal(err)
			}
			if n := commits.Get() - before; n != 1 {
				t.Fatalf("%d commits, want 1", n)
			}
			if kv, _ := st.GetStates("counters"); len(kv) != 1 {
				t.Fatalf("the caller's write is not there: %q", kv)
			}
			want := 0
			if persist == PersistAlways {
				want = 2
			}
			for _, c := range conns {
				if n := st.Stats(c.ID).Count; n != want {
					t.Fatalf("queue %s holds %d, want %d", c.ID, n, want)
				}
			}
			for _, s := range m.Status() {
				if s.Backlog != 2 {
					t.Fatalf("connection %s: backlog %d, want 2", s.ID, s.Backlog)
				}
			}
		})
	}
}
