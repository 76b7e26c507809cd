package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/buffer"
	"edgeflow/internal/testkit"
	"edgeflow/radio"
	"edgeflow/uplink"
)

// testDevice is testkit's ABP device n as a session.
func testDevice(n int) uplink.Session {
	d := testkit.NewDevice(byte(n))
	return uplink.Session{DevEUI: d.DevEUI, DevAddr: d.DevAddr, NwkSKey: d.NwkSKey, AppSKey: d.AppSKey}
}

func testFrame(t testing.TB, s uplink.Session, fcnt uint32) []radio.Frame {
	d := testkit.Device{DevEUI: s.DevEUI, DevAddr: s.DevAddr, NwkSKey: s.NwkSKey, AppSKey: s.AppSKey}
	return []radio.Frame{{PHYPayload: d.Up(t, fcnt, 1, []byte{byte(fcnt)}), Time: time.Now(), Frequency: 868.1, Modulation: "LORA",
		DataRate: "SF7BW125", SF: 7, Bandwidth: 125, CodeRate: "4/5", RSSI: -60, SNR: 9, CRCStatus: 1}}
}

// gateway is the agent's persist "always" path over a real buffer file: the
// decoder, the persister on the buffer's state, and an append per uplink.
type gateway struct {
	store *buffer.Store
	sess  *uplink.Sessions
	p     *uplink.Persister
	dec   *uplink.Decoder
}

func openGateway(t testing.TB, path string, devs []uplink.Session, opts buffer.Options) *gateway {
	t.Helper()
	st, err := buffer.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{store: st, sess: uplink.NewSessions()}
	if err := g.sess.Set(devs); err != nil {
		t.Fatal(err)
	}
	g.p = uplink.NewPersister(g.sess, stateStore{st}, uplink.PersistOptions{}, nil)
	if _, err := g.p.Load(); err != nil {
		t.Fatal(err)
	}
	g.dec = uplink.NewDecoder(g.sess, uplink.DecoderOptions{}, nil, nil)
	return g
}

// uplink decodes one frame and, as Agent.enqueue does with persist
// "always", commits its append and its counter in one batch; it returns
// once they are committed (the PUSH_ACK).
func (g *gateway) uplink(t testing.TB, s uplink.Session, fcnt uint32) {
	ups := g.dec.Decode(testFrame(t, s, fcnt))
	if len(ups) != 1 {
		t.Fatalf("%s fcnt %d refused", s.DevEUI, fcnt)
	}
	err := g.p.FlushWith(context.Background(), func(ctx context.Context, save uplink.CounterSave) error {
		var b buffer.Batch
		b.States(counterWrites(save)...)
		b.Append("q", []buffer.Record{{Time: time.Now(), Data: make([]byte, 120)}})
		return g.store.Commit(ctx, &b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

const childEnv = "EDGEFLOW_COUNTER_CHILD"

// counterChild sends uplinks round the devices until killed, printing each
// device's counter once it is saved, then waiting for a line on stdin
// before the next one: the parent kills it while it waits, so that what the
// parent read is exactly what was saved (a child running ahead would have
// saved counters the parent never saw).
func counterChild(t *testing.T, path string) {
	devs := make([]uplink.Session, 40)
	for i := range devs {
		devs[i] = testDevice(i)
	}
	g := openGateway(t, path, devs, buffer.Options{})
	next := map[lorawan.EUI64]uint32{}
	for _, d := range g.sess.Snapshot() {
		next[d.DevEUI] = d.FCnt + 1
	}
	out := bufio.NewWriter(os.Stdout)
	goOn := bufio.NewReader(os.Stdin)
	for n := 0; ; n++ {
		d := devs[n%len(devs)]
		fc := next[d.DevEUI]
		g.uplink(t, d, fc)
		next[d.DevEUI] = fc + 1
		fmt.Fprintf(out, "saved %d %d\n", n%len(devs), fc)
		out.Flush()
		if _, err := goOn.ReadString('\n'); err != nil {
			return // the parent went away
		}
	}
}

// TestCountersSurviveSIGKILLBetweenDeltaAndFold: with persist "always" the
// counters go to a small bucket of deltas, folded into the sessions bucket
// every few dozen uplinks. A process killed at any point, with deltas
// waiting to be folded or just after a fold, comes back with every counter
// it acknowledged: a replay of each device's last saved frame is refused
// and its next frame accepted.
func TestCountersSurviveSIGKILLBetweenDeltaAndFold(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		counterChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "buffer.db")
	devs := make([]uplink.Session, 40)
	for i := range devs {
		devs[i] = testDevice(i)
	}
	withDeltas := 0
	for round, kill := range []int{57, 90, 131, 70} { // uplinks before the kill: past 1-3 folds
		cmd := exec.Command(os.Args[0], "-test.run=^TestCountersSurviveSIGKILLBetweenDeltaAndFold$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+path)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		goOn, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		saved := map[int]uint32{}
		sc := bufio.NewScanner(stdout)
		for n := 0; n < kill && sc.Scan(); {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "saved" {
				continue
			}
			i, _ := strconv.Atoi(f[1])
			fc, _ := strconv.ParseUint(f[2], 10, 32)
			saved[i] = uint32(fc)
			if n++; n < kill {
				if _, err := io.WriteString(goOn, "\n"); err != nil {
					t.Fatalf("round %d: the child is gone after %d uplinks: %v", round, n, err)
				}
			}
		}
		// The child now waits after its last "saved" line: killed there,
		// with that uplink committed and the next one not begun.
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		goOn.Close()
		if len(saved) != len(devs) {
			t.Fatalf("round %d: the child saved %d devices' counters before the kill", round, len(saved))
		}

		g := openGateway(t, path, devs, buffer.Options{})
		deltas, err := g.store.GetStates(countersBucket)
		if err != nil {
			t.Fatal(err)
		}
		if len(deltas) > 0 {
			withDeltas++
		}
		for i, fc := range saved {
			if ups := g.dec.Decode(testFrame(t, devs[i], fc)); len(ups) != 0 {
				t.Fatalf("round %d (%d deltas): replay of device %d fcnt %d accepted after SIGKILL", round, len(deltas), i, fc)
			}
		}
		for i, fc := range saved {
			if ups := g.dec.Decode(testFrame(t, devs[i], fc+1)); len(ups) != 1 {
				t.Fatalf("round %d: device %d fcnt %d (next) refused after SIGKILL", round, i, fc+1)
			}
		}
		// Not saved: the child starts again from the counters of the kill.
		if err := g.store.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if withDeltas == 0 {
		t.Fatal("no kill landed while deltas waited to be folded")
	}
}

// With persist "always" a counter saved in each uplink's commit costs
// (almost) no page: the deltas ride in the root page the append writes
// anyway; only a fold every few dozen uplinks writes the sessions bucket.
func TestCounterSaveCostsAlmostNoPage(t *testing.T) {
	devs := make([]uplink.Session, 100)
	for i := range devs {
		devs[i] = testDevice(i)
	}
	set := vm.NewSet()
	g := openGateway(t, filepath.Join(t.TempDir(), "buffer.db"), devs, buffer.Options{Metrics: set})
	defer g.store.Close()
	written := set.GetOrCreateCounter("edgeflow_buffer_written_bytes_total")
	commits := set.GetOrCreateCounter("edgeflow_buffer_commits_total")
	fc := uint32(0)
	round := func(save bool) {
		fc++
		for _, d := range devs {
			if save {
				g.uplink(t, d, fc)
				continue
			}
			if err := g.store.Append(context.Background(), "q", []buffer.Record{{Time: time.Now(), Data: make([]byte, 120)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	round(true) // every device's first full record
	round(true)
	measure := func(save bool) (float64, float64) {
		w0, c0 := written.Get(), commits.Get()
		round(save)
		return float64(written.Get()-w0) / float64(len(devs)) / 4096, float64(commits.Get()-c0) / float64(len(devs))
	}
	alone, ca := measure(false)
	with, cw := measure(true)
	t.Logf("pages per uplink: append alone %.2f (%.2f commits), with its counter %.2f (%.2f commits)", alone, ca, with, cw)
	if with > alone+0.5 {
		t.Errorf("a saved counter costs %.2f pages per uplink", with-alone)
	}
	if cw != 1 {
		t.Errorf("%.2f commits per uplink with its counter, want 1: they are one batch", cw)
	}
}
