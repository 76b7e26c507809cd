package delivery

import "testing"

// TestDefaultOptionsAreSetDefaults: DefaultOptions is what an operator's
// documentation and the agent's drift test read, setDefaults what runs.
func TestDefaultOptionsAreSetDefaults(t *testing.T) {
	var o Options
	o.setDefaults()
	tunings := func(o Options) [8]any {
		return [8]any{o.Persist, o.SpillAfter, o.MaxMemory, o.BackoffMin, o.BackoffMax, o.MaxRetryAfter, o.DrainRate, o.BatchSize}
	}
	if got, want := tunings(o), tunings(DefaultOptions()); got != want {
		t.Errorf("setDefaults gives %v, DefaultOptions %v", got, want)
	}
}
