package agent

import (
	"fmt"
	"strings"
	"testing"

	"edgeflow/buffer"
	"edgeflow/config"
	"edgeflow/packetfwd/semtech"
	"edgeflow/uplink/connector"
	"edgeflow/uplink/delivery"
)

// TestConfigDefaultsAreThePackages: the file's defaults (config's
// settings table, what `edgeflow config init` and the docs show) and the
// defaults each package takes for a zero field are stated apart, since
// config may not import them; this is where a change to one side without
// the other fails. delivery.mergeWindow is config's alone: the package
// sends at once unless told to wait.
func TestConfigDefaultsAreThePackages(t *testing.T) {
	c := config.DefaultIn(config.Dirs{})
	b, d, h, m := buffer.DefaultOptions(), delivery.DefaultOptions(), connector.DefaultHTTPConfig(), connector.DefaultMQTTConfig()
	for _, x := range []struct {
		key       string
		file, pkg any
	}{
		{"buffer.maxSize", int64(c.Buffer.MaxSize), b.MaxSize},
		{"buffer.persist", c.Buffer.Persist, d.Persist},
		{"delivery.retryMin", c.Delivery.RetryMin.Std(), d.BackoffMin},
		{"delivery.retryMax", c.Delivery.RetryMax.Std(), d.BackoffMax},
		{"delivery.drainRate", float64(c.Delivery.DrainRate), d.DrainRate},
		{"delivery.spillAfter", c.Delivery.SpillAfter.Std(), d.SpillAfter},
		{"delivery.timeout", c.Delivery.Timeout.Std(), h.Timeout},
		{"delivery.concurrency", c.Delivery.Concurrency, h.Concurrency},
		{"connectionTimeout (ms)", int64(config.DefaultMQTTConnectionTimeout), m.ConnectTimeout.Milliseconds()},
		{"actionTimeout (ms)", int64(config.DefaultMQTTActionTimeout), m.ActionTimeout.Milliseconds()},
		{"uplinkTopicPattern", config.DefaultMQTTTopicPattern, m.Topic},
	} {
		if x.file != x.pkg {
			t.Errorf("%s: the file's default is %v, the package's %v", x.key, x.file, x.pkg)
		}
	}
}

// TestConfigInitTellsTheRateLimit: rateLimit's 0 takes semtech's
// default, which config init's text states in words.
func TestConfigInitTellsTheRateLimit(t *testing.T) {
	want := fmt.Sprintf("%d/s with a burst of %d", semtech.DefaultRatePerSecond, semtech.DefaultRateBurst)
	if !strings.Contains(config.InitText(), want) {
		t.Errorf("config init's rateLimit text does not say %q", want)
	}
}
