package buffer

import "testing"

func TestDefaultOptionsAreWithDefaults(t *testing.T) {
	o, _ := Options{}.withDefaults()
	d := DefaultOptions()
	if o.MaxSize != d.MaxSize || o.CommitInterval != d.CommitInterval || o.MaxBatch != d.MaxBatch || o.AckWait != d.AckWait {
		t.Errorf("withDefaults gives %+v, DefaultOptions %+v", o, d)
	}
}
