package browser

// The parts of the browser test that are not the browser: the agent as a
// subprocess (testkit.StartAgent), a packet forwarder that sends real
// LoRaWAN frames, a Cayenne stand-in (testkit.Sink).

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"edgeflow/internal/testkit"
)

// front checks that the agent serves the page itself at "/" (web.Handler
// mounted on the local API, without the token: a browser cannot send one
// when it opens an address) and returns the address the browser opens.
func front(t *testing.T, apiAddr string) string {
	t.Helper()
	base := "http://" + apiAddr
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "app.js?v=") {
		t.Fatalf("GET %s/ = %d, not the page: the agent must serve web.Handler at \"/\" without the token\n%.300s", base, res.StatusCode, b)
	}
	return base
}

// device is an ABP device that builds real frames (testkit.Device), with
// the name the page shows.
type device struct {
	testkit.Device
	name string
}

func newDevice(n byte, name string) device { return device{testkit.NewDevice(n), name} }

func (d device) yaml() string { return d.YAML() + "    name: \"" + d.name + "\"\n" }

func (d device) frame(t *testing.T, fcnt uint32, fport uint8, payload []byte) []byte {
	t.Helper()
	return d.Up(t, fcnt, fport, payload)
}

// push sends one PUSH_DATA (GWMP v2) with the frames and waits for its PUSH_ACK.
func push(t *testing.T, udpAddr string, rssi, snr float64, frames ...[]byte) {
	t.Helper()
	pushFrom(t, udpAddr, testkit.GatewayEUI, rssi, snr, frames...)
}

// networkServer is a relay upstream that acknowledges what the agent
// relays, as a network server does, so the agent reports it up.
func networkServer(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			acks := map[byte]byte{0x00: 0x01, 0x02: 0x04} // PUSH_DATA → PUSH_ACK, PULL_DATA → PULL_ACK
			if ack, ok := acks[buf[3]]; n >= 4 && ok {
				_, _ = c.WriteTo([]byte{buf[0], buf[1], buf[2], ack}, from)
			}
		}
	}()
	return c.LocalAddr().String()
}

// apiGet reads the API as the command line does.
func apiGet(t *testing.T, apiAddr, path, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+apiAddr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// lanAddr is a non-loopback IPv4 address of this machine, "" when none.
func lanAddr() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
