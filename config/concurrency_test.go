package config

import (
	"strings"
	"testing"
)

// delivery.pipeline is retired: a file that still sets it loads, with a
// warning naming what replaced it; delivery.concurrency is read and checked.
func TestDeliveryPipelineRetired(t *testing.T) {
	c, warns, err := Parse([]byte("delivery:\n  pipeline: 8\n  concurrency: 12\n"), "edgeflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivery.Concurrency != 12 {
		t.Errorf("concurrency %d, want 12", c.Delivery.Concurrency)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].String(), "delivery.concurrency") || !strings.Contains(warns[0].String(), "line 2") && !strings.Contains(warns[0].String(), ":2:") {
		t.Fatalf("warnings %v, want one for line 2 naming delivery.concurrency", warns)
	}
	c, _, err = Parse([]byte("delivery: {}\n"), "edgeflow.yaml")
	if err != nil || c.Delivery.Concurrency != DefaultConcurrency {
		t.Fatalf("default concurrency %d (%v), want %d", c.Delivery.Concurrency, err, DefaultConcurrency)
	}
	if _, _, err := Parse([]byte("delivery:\n  concurrency: 0\n"), "edgeflow.yaml"); err == nil || !strings.Contains(err.Error(), "concurrency must be from 1 to 256") {
		t.Fatalf("concurrency 0: %v", err)
	}
}
