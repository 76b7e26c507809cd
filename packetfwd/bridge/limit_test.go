package bridge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"testing"

	"edgeflow/internal/testkit"

	"edgeflow/radio"
)

// TestMQTTSourceDropsLargeMessage: a message over the limit, from the
// embedded broker, is dropped and counted; the next one still flows.
func TestMQTTSourceDropsLargeMessage(t *testing.T) {
	b := testkit.StartBroker(t, testkit.BrokerOptions{})
	h := newMQTTHarness(t, "tcp://"+b.Addr, []string{"gateway/+/event/up"})
	testkit.WaitUntil(t, "subscribed", func() bool { return b.Subscriptions() >= 1 && h.src.Status().Connected })
	b.Publish("gateway/aa555a0000000101/event/up", bytes.Repeat([]byte{' '}, maxMQTTPacket+1))
	b.Publish("gateway/aa555a0000000101/event/up", readSample(t, "v4-event-up.json"))
	assertFrames(t, []radio.Frame{h.next(t)}, []radio.Frame{sampleFrame(euiV4)})
	if got := h.set.GetOrCreateCounter(`edgeflow_mqtt_dropped_total{reason="too_large"}`).Get(); got != 1 {
		t.Errorf("too_large = %d, want 1", got)
	}
	if got := h.set.GetOrCreateCounter(`edgeflow_mqtt_connects_total`).Get(); got != 1 {
		t.Errorf("connects = %d: the large message cost the connection", got)
	}
}

// TestMQTTSourceHugeMessageAllocatesNothing: a broker sends a PUBLISH
// declaring 200 MB and then its 200 MB. paho alone allocates the whole
// message before anyone can look at it; under limitConn the bytes are
// dropped as they come. The broker is a raw socket, so that the only
// allocations in this process are the client's.
func TestMQTTSourceHugeMessageAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MB over loopback")
	}
	const huge = 200 << 20
	topic := "gateway/aa555a0000000101/event/up"
	good := readSample(t, "v4-event-up.json")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go rawBroker(t, ln, func(w io.Writer) {
		writePublish(w, topic, huge, nil)
		writePublish(w, topic, len(good), good)
	})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := newMQTTHarness(t, "tcp://"+ln.Addr().String(), []string{"gateway/+/event/up"})
	assertFrames(t, []radio.Frame{h.next(t)}, []radio.Frame{sampleFrame(euiV4)})
	runtime.ReadMemStats(&after)
	if got := h.set.GetOrCreateCounter(`edgeflow_mqtt_dropped_total{reason="too_large"}`).Get(); got != 1 {
		t.Errorf("too_large = %d, want 1", got)
	}
	// Everything the client allocated while 200 MB went by: bufio's
	// buffer, paho's goroutines and the good message, far below 200 MB.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("the client allocated %d KiB while a %d MiB message went by", alloc>>10, huge>>20)
	if alloc > 32<<20 {
		t.Errorf("the client allocated %d MiB while a 200 MiB message went by", alloc>>20)
	}
}

// rawBroker answers one client's CONNECT and SUBSCRIBE, then runs send.
func rawBroker(t *testing.T, ln net.Listener, send func(io.Writer)) {
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		typ, body, err := readPacket(r)
		if err != nil {
			return
		}
		switch typ {
		case 1: // CONNECT → CONNACK
			_, _ = c.Write([]byte{0x20, 2, 0, 0})
		case 8: // SUBSCRIBE → SUBACK, granting QoS 0 to each filter
			n := 0
			for rest := body[2:]; len(rest) >= 2; n++ {
				l := int(binary.BigEndian.Uint16(rest))
				rest = rest[min(len(rest), 2+l+1):]
			}
			_, _ = c.Write(append([]byte{0x90, byte(2 + n), body[0], body[1]}, make([]byte, n)...))
			go send(c)
		case 12: // PINGREQ
			_, _ = c.Write([]byte{0xd0, 0})
		}
	}
}

func readPacket(r *bufio.Reader) (byte, []byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	size, mult := 0, 1
	for {
		d, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		size += int(d&0x7f) * mult
		mult <<= 7
		if d&0x80 == 0 {
			break
		}
	}
	body := make([]byte, size)
	_, err = io.ReadFull(r, body)
	return h >> 4, body, err
}

// writePublish sends a QoS 0 PUBLISH of size payload bytes: payload, or
// zeros from a small buffer when payload is nil.
func writePublish(w io.Writer, topic string, size int, payload []byte) {
	var hdr []byte
	hdr = append(hdr, 0x30)
	rem := 2 + len(topic) + size
	for {
		d := byte(rem & 0x7f)
		rem >>= 7
		if rem > 0 {
			d |= 0x80
		}
		hdr = append(hdr, d)
		if rem == 0 {
			break
		}
	}
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(topic)))
	hdr = append(hdr, topic...)
	if _, err := w.Write(hdr); err != nil {
		return
	}
	if payload != nil {
		_, _ = w.Write(payload)
		return
	}
	zeros := make([]byte, 64<<10)
	for left := size; left > 0; {
		n, err := w.Write(zeros[:min(left, len(zeros))])
		if err != nil {
			return
		}
		left -= n
	}
}

// readerConn is a net.Conn that reads from a byte slice.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// FuzzLimitConn: whatever the broker sends, limitConn does not panic,
// passes packets within the limit unchanged and drops only whole PUBLISHes.
func FuzzLimitConn(f *testing.F) {
	var small, big bytes.Buffer
	writePublish(&small, "gateway/x/event/up", 3, []byte("abc"))
	writePublish(&big, "t", 100, nil)
	f.Add(append([]byte{0x20, 2, 0, 0}, small.Bytes()...))
	f.Add(append(big.Bytes(), small.Bytes()...))
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x90, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		dropped := 0
		c := newLimitConn(readerConn{r: bytes.NewReader(in)}, 64, func(int) { dropped++ })
		out, _ := io.ReadAll(c)
		if len(out) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
		if dropped == 0 && !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("changed what it passed: % x → % x", in, out)
		}
	})
}
