package bridge

import (
	"encoding/hex"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"edgeflow/internal/testkit"
	"edgeflow/radio"
)

var recvTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// mustOpen is Open that fails the test on an error.
func mustOpen(t testing.TB, cfg Config, h radio.Handler, logger *slog.Logger, set *metrics.Set) *Source {
	t.Helper()
	s, err := Open(cfg, h, logger, set)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs s; the function it returns ends Run and waits for it.
func run(t testing.TB, s *Source) (stop func()) { return testkit.RunSource(t, s) }

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// syncBuffer is a log a goroutine writes while the test reads it.
type syncBuffer = testkit.LogBuffer

func assertFrames(t *testing.T, got, want []radio.Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("frame %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func newTestLogger(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func countLines(s, sub string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// v1PHY is the PHYPayload of the shared bridge samples.
var v1PHY, _ = hex.DecodeString("40F17DBE4900020001954378762B11FF0D")
