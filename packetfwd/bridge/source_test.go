package bridge

import (
	"context"
	"edgeflow/internal/testkit"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgeflow/radio"
)

// mqttHarness is a started Source recording frames.
type mqttHarness struct {
	src    *Source
	set    *metrics.Set
	frames chan []radio.Frame
}

func newMQTTHarness(t *testing.T, server string, topics []string) *mqttHarness {
	t.Helper()
	h := &mqttHarness{set: metrics.NewSet(), frames: make(chan []radio.Frame, 64)}
	clock := &testClock{t: recvTime}
	h.src = mustOpen(t, Config{Server: server, Topics: topics, QoS: 1, Now: clock.Now,
		// mochi's Close accepts connections until its listener is closed
		// and never answers them: do not wait the default 10 s on one.
		ConnectTimeout: time.Second},
		radio.HandlerFunc(func(_ context.Context, f []radio.Frame) error { h.frames <- f; return nil }), nil, h.set)
	t.Cleanup(run(t, h.src))
	return h
}

func (h *mqttHarness) next(t *testing.T) radio.Frame {
	t.Helper()
	select {
	case f := <-h.frames:
		if len(f) != 1 {
			t.Fatalf("%d frames in one message", len(f))
		}
		return f[0]
	case <-time.After(30 * time.Second):
		t.Fatal("no frame")
		return radio.Frame{}
	}
}

func TestMQTTSourceEmbeddedBroker(t *testing.T) {
	b := testkit.StartBroker(t, testkit.BrokerOptions{})
	h := newMQTTHarness(t, "tcp://"+b.Addr, []string{"gateway/+/event/up", "eu868/gateway/+/event/up"})
	testkit.WaitUntil(t, "subscribed", func() bool { return b.Subscriptions() >= 1 && h.src.Status().Connected })

	v3, v4 := readSample(t, "v3-event-up.json"), readSample(t, "v4-event-up.json")
	pb := readSample(t, "v4-event-up.pb")
	// The topic says nothing of the encoding, nor of the gateway: a v4
	// protobuf on a v3-looking topic is fine.
	b.Publish("gateway/aa555a0000000102/event/up", []byte("\xff\xfe not a bridge message"))
	b.Publish("gateway/aa555a0000000102/event/up", v3)
	b.Publish("eu868/gateway/aa555a0000000101/event/up", pb[:len(pb)-5])
	b.Publish("eu868/gateway/aa555a0000000101/event/up", v4)
	b.Publish("eu868/gateway/aa555a0000000101/event/up", []byte(`{"phyPayload":"AQI=","rxInfo":{"gatewayId":"zz"},"txInfo":{}}`))
	b.Publish("gateway/0000000000000000/event/up", pb)
	b.Publish("gateway/aa555a0000000101/event/stats", v4) // not subscribed

	assertFrames(t, []radio.Frame{h.next(t), h.next(t), h.next(t)},
		[]radio.Frame{sampleFrame(euiV3), sampleFrame(euiV4), sampleFrame(euiV4)})
	testkit.WaitUntil(t, "drops counted", func() bool { return h.src.Status().Dropped == 3 })
	for name, want := range map[string]uint64{
		`edgeflow_mqtt_messages_total`:                         6,
		`edgeflow_mqtt_frames_total`:                           3,
		`edgeflow_mqtt_dropped_total{reason="bad_protobuf"}`:   2,
		`edgeflow_mqtt_dropped_total{reason="bad_gateway_id"}`: 1,
	} {
		if got := h.set.GetOrCreateCounter(name).Get(); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}

	// Restart the broker on the same port: the source reconnects and,
	// the session being clean, subscribes again.
	b.Stop()
	testkit.WaitUntil(t, "disconnected", func() bool { return !h.src.Status().Connected })
	b.Start()
	start := time.Now()
	testkit.WaitUntil(t, "resubscribed", func() bool { return b.Subscriptions() >= 2 && h.src.Status().Connected })
	t.Logf("resubscribed after %v", time.Since(start))
	b.Publish("eu868/gateway/aa555a0000000101/event/up", pb)
	assertFrames(t, []radio.Frame{h.next(t)}, []radio.Frame{sampleFrame(euiV4)})
	if got := h.set.GetOrCreateCounter("edgeflow_mqtt_connects_total").Get(); got != 2 {
		t.Errorf("connects %d", got)
	}
	select {
	case f := <-h.frames:
		t.Fatalf("frame delivered twice: %+v", f)
	default:
	}
}

func TestMQTTSourceConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Server: "tcp://127.0.0.1:1", QoS: 2},
		{Server: "ssl://127.0.0.1:1", CAFile: "testdata/nope.pem"},
		{Server: "ssl://127.0.0.1:1", CAFile: "testdata/bridge/v4-event-up.json"},
	} {
		if _, err := Open(cfg, radio.HandlerFunc(func(context.Context, []radio.Frame) error { return nil }), nil, nil); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// TestMQTTSourceMosquitto runs against a real mosquitto when installed.
func TestMQTTSourceMosquitto(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	testkit.Need(t, err == nil, "mosquitto")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := t.TempDir() + "/mosquitto.conf"
	os.WriteFile(conf, []byte("listener "+strconv.Itoa(port)+" 127.0.0.1\nallow_anonymous true\n"), 0o644)
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	server := "tcp://127.0.0.1:" + strconv.Itoa(port)
	// Connect once mosquitto listens, not after the first retry interval.
	testkit.WaitUntil(t, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	h := newMQTTHarness(t, server, []string{"eu868/gateway/+/event/up"})
	testkit.WaitUntil(t, "connected", func() bool { return h.src.Status().Connected })
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(server).SetClientID("test-publisher"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	// The subscription may lag the connection: publish until a frame comes.
	deadline := time.Now().Add(testkit.Patience)
	for {
		pub.Publish("eu868/gateway/aa555a0000000101/event/up", 1, false, readSample(t, "v4-event-up.pb")).Wait()
		select {
		case f := <-h.frames:
			assertFrames(t, f, []radio.Frame{sampleFrame(euiV4)})
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame through mosquitto")
		}
	}
}

func TestMQTTHandleMessageSurvivesEverything(t *testing.T) {
	logs := &syncBuffer{}
	set := metrics.NewSet()
	calls := 0
	var got []radio.Frame
	src := mustOpen(t, Config{Server: "tcp://127.0.0.1:1", Now: func() time.Time { return recvTime }},
		radio.HandlerFunc(func(_ context.Context, f []radio.Frame) error {
			calls++
			switch calls {
			case 1:
				panic("handler bug")
			case 2:
				return errors.New("buffer full")
			}
			got = append(got, f...)
			return nil
		}), newTestLogger(logs), set)
	v4 := readSample(t, "v4-event-up.json")
	for range 3 {
		src.handleMessage("gateway/x/event/up", v4)
	}
	for range 50 {
		src.handleMessage("gateway/x/event/up", []byte("{garbage"))
	}
	src.handleMessage("gateway/x/event/up", v4)
	assertFrames(t, got, []radio.Frame{sampleFrame(euiV4), sampleFrame(euiV4)})
	for name, want := range map[string]uint64{
		`edgeflow_mqtt_dropped_total{reason="panic"}`:         1,
		`edgeflow_mqtt_dropped_total{reason="handler_error"}`: 1,
		`edgeflow_mqtt_dropped_total{reason="bad_json"}`:      50,
		`edgeflow_mqtt_messages_total`:                        54,
	} {
		if got := set.GetOrCreateCounter(name).Get(); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// The clock stands still: one line per reason.
	if n := countLines(logs.String(), "reason=bad_json"); n != 1 {
		t.Errorf("%d lines for bad_json:\n%s", n, logs.String())
	}
	if st := src.Status(); st.Messages != 54 || st.Dropped != 52 || !st.LastMessage.Equal(recvTime) || st.Connected {
		t.Errorf("status %+v", st)
	}
}
