package main_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/internal/testkit"
)

// fastRetry makes the agent retry within a second, so that tests of outages
// take seconds rather than the 30 s default ceiling.
const fastRetry = `delivery:
  retryMin: 50ms
  retryMax: 400ms
`

// TestOutageAcrossRestart: the endpoint answers 503, then resets
// connections, while the agent is restarted in the middle of the outage;
// once it recovers every uplink arrives once, in order, marked Late, with
// its reception time.
func TestOutageAcrossRestart(t *testing.T) {
	for _, persist := range []string{"on-outage", "always"} {
		t.Run(persist, func(t *testing.T) { testOutageAcrossRestart(t, persist) })
	}
}

func testOutageAcrossRestart(t *testing.T, persist string) {
	d1, d2 := newDevice(1), newDevice(2)
	var mode atomic.Int32 // 0: 503, 1: reset, 2: healthy
	ep := testkit.NewSink(t)
	ep.SetAnswer(func(*testkit.Request) int {
		switch mode.Load() {
		case 0:
			return http.StatusServiceUnavailable
		case 1:
			return testkit.Reset
		}
		return http.StatusAccepted
	})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	cfg := strings.ReplaceAll(configText(ep.URL, persist, d1, d2), "$DIR", dir) + fastRetry
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	type key struct {
		eui  string
		fcnt uint32
	}
	times := map[key]time.Time{}
	send := func(ag *testkit.Agent, from, to uint32) {
		fw := newForwarder(t, ag.UDP)
		for fc := from; fc <= to; fc++ {
			for _, d := range []device{d1, d2} {
				at := time.Now().UTC().Add(-time.Duration(fc) * time.Second).Truncate(time.Millisecond)
				fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, fc, port(1), []byte{byte(fc)}), -70, 5, at.Format("2006-01-02T15:04:05.000000Z")))
				times[key{strings.ToUpper(d.devEUI.String()), fc}] = at
			}
		}
	}

	answered := func(status int) int {
		n := 0
		for _, r := range ep.Requests() {
			if r.Status == status {
				n++
			}
		}
		return n
	}
	ag1 := testkit.StartAgentFile(t, cfgPath)
	send(ag1, 1, 10)
	ep.Wait(t, "several 503s", func([]*testkit.Request) bool { return answered(http.StatusServiceUnavailable) >= 3 })
	mode.Store(1)
	send(ag1, 11, 15)
	ag1.Stop(t) // SIGTERM in the middle of the outage
	resets := answered(testkit.Reset)
	ag2 := testkit.StartAgentFile(t, cfgPath)
	send(ag2, 16, 20)
	ep.Wait(t, "the restarted agent's attempt", func([]*testkit.Request) bool { return answered(testkit.Reset) > resets })
	if n := len(ep.Uplinks()); n != 0 {
		t.Fatalf("%d uplinks accepted during the outage", n)
	}
	mode.Store(2)
	recovered := time.Now()
	got := ep.WaitUplinks(t, 40)
	t.Logf("all 40 uplinks delivered %v after recovery", time.Since(recovered).Round(time.Millisecond))
	seen := map[string]bool{}
	for _, doc := range got {
		eui, fc := doc["DevEUI"].(string), doc["FCntUp"].(float64)
		// Requests in flight together may arrive in any order; each once.
		if key := fmt.Sprint(eui, fc); seen[key] {
			t.Errorf("%s FCnt %v delivered twice", eui, fc)
		} else {
			seen[key] = true
		}
		if doc["Late"] != float64(1) {
			t.Errorf("%s FCnt %v: Late = %v, want 1", eui, fc, doc["Late"])
		}
		want := times[key{eui, uint32(fc)}].Format("2006-01-02T15:04:05.000+00:00")
		if doc["Time"] != want {
			t.Errorf("%s FCnt %v: Time = %v, want the reception time %s", eui, fc, doc["Time"], want)
		}
	}
	ag2.Stop(t)
}

// TestSIGKILLLosesNoAcknowledgedUplink: with persist "always" and a slow
// endpoint, the agent is killed with SIGKILL several times under load; every
// uplink whose PUSH_DATA was acknowledged must still be delivered.
func TestSIGKILLLosesNoAcknowledgedUplink(t *testing.T) {
	d := newDevice(1)
	ep := testkit.NewSink(t)
	// A slow endpoint: 20 ms a request, so that uplinks pile up in the
	// agent between kills (the time a real endpoint takes).
	ep.SetAnswer(func(*testkit.Request) int { time.Sleep(20 * time.Millisecond); return http.StatusAccepted })
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	cfg := strings.ReplaceAll(configText(ep.URL, "always", d), "$DIR", dir) + fastRetry
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	acked := map[uint32]bool{}
	fc := uint32(0)
	for round := 0; round < 4; round++ {
		ag := testkit.StartAgentFile(t, cfgPath)
		fw := newForwarder(t, ag.UDP)
		// Under load for a random while, so that the kills land at
		// different points of the agent's work.
		kill := time.After(time.Duration(200+rand.IntN(400)) * time.Millisecond)
	load:
		for {
			select {
			case <-kill:
				break load
			default:
			}
			fc++
			if fw.TryPush(2, time.Second, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, fc, port(1), []byte{byte(fc)}), -70, 5, "")) {
				acked[fc] = true
			}
		}
		ag.Kill()
	}
	ag := testkit.StartAgentFile(t, cfgPath)
	ep.Wait(t, "every acknowledged uplink", func([]*testkit.Request) bool { return delivered(ep, acked) == len(acked) })
	if n := delivered(ep, acked); n != len(acked) {
		t.Fatalf("%d of %d acknowledged uplinks delivered after 4 SIGKILLs", n, len(acked))
	}
	t.Logf("%d acknowledged uplinks, all delivered (%d deliveries, duplicates are the ones in flight at a kill)", len(acked), len(ep.Uplinks()))
	ag.Stop(t)
}

func delivered(ep *testkit.Sink, acked map[uint32]bool) int {
	seen := map[uint32]bool{}
	for _, doc := range ep.Uplinks() {
		fc := uint32(doc["FCntUp"].(float64))
		if acked[fc] {
			seen[fc] = true
		}
	}
	return len(seen)
}

// TestGarbageBufferFile: a buffer file replaced by garbage is set aside, not
// deleted, and the agent starts and delivers.
func TestGarbageBufferFile(t *testing.T) {
	d := newDevice(1)
	ep := testkit.NewSink(t)
	dir := t.TempDir()
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rand.IntN(256))
	}
	if err := os.WriteFile(filepath.Join(dir, "buffer.db"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "edgeflow.yaml")
	cfg := strings.ReplaceAll(configText(ep.URL, "always", d), "$DIR", dir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := testkit.StartAgentFile(t, cfgPath)
	fw := newForwarder(t, ag.UDP)
	fw.Push(2, newRxpk(d.frame(t, lorawan.UnconfirmedDataUp, 1, port(1), []byte("ok")), -70, 5, ""))
	ep.WaitUplinks(t, 1)
	ag.Stop(t)
	entries, _ := filepath.Glob(filepath.Join(dir, "buffer.db.damaged-*"))
	if len(entries) != 1 {
		t.Fatalf("damaged file not set aside: %v", entries)
	}
	kept, err := os.ReadFile(entries[0])
	if err != nil || string(kept) != string(garbage) {
		t.Fatalf("the damaged file was not kept byte for byte (%v)", err)
	}
	if !strings.Contains(ag.Log(), "damaged") {
		t.Errorf("the damaged buffer was not reported in the log")
	}
}
