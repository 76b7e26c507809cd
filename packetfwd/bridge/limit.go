package bridge

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// maxMQTTPacket bounds an MQTT packet from the broker: a bridge message
// (maxBridgePayload) and its topic. paho reads a whole PUBLISH into memory
// before anyone sees it, so a message declaring 200 MB took 200 MB before
// the size check of DecodeUplink; the limit is applied by the
// connection under paho instead, from the packet's fixed header, before
// anything is allocated.
const maxMQTTPacket = maxBridgePayload + 4<<10

// errMQTTPacketTooLarge ends a connection whose broker sends a control
// packet (not a PUBLISH) larger than any MQTT 3.1.1 broker sends.
var errMQTTPacketTooLarge = errors.New("the broker sent an MQTT packet larger than any it should")

// limitConn passes the broker's packets to paho, except a PUBLISH larger
// than max, whose bytes it reads and drops as they come (memory stays at
// bufio's buffer), calling onDrop with its size. The QoS 0 subscriptions
// need no acknowledgement; at QoS 1 the broker sends it again only after
// a reconnect.
type limitConn struct {
	net.Conn
	r      *bufio.Reader
	max    int
	onDrop func(size int)

	hdr  [5]byte
	head []byte // the current packet's fixed header, not yet handed over
	left int    // bytes of the current packet's body not yet handed over
}

func newLimitConn(c net.Conn, max int, onDrop func(int)) *limitConn {
	return &limitConn{Conn: c, r: bufio.NewReaderSize(c, 4096), max: max, onDrop: onDrop}
}

func (c *limitConn) Read(p []byte) (int, error) {
	for len(c.head) == 0 && c.left == 0 {
		size, err := c.readHeader()
		if err != nil {
			return 0, err
		}
		if c.hdr[0]>>4 == 3 && size > c.max { // PUBLISH
			if _, err := c.r.Discard(size); err != nil {
				return 0, err
			}
			c.head = nil
			c.onDrop(size)
			continue
		}
		if size > c.max {
			return 0, fmt.Errorf("%w (type %d, %d bytes)", errMQTTPacketTooLarge, c.hdr[0]>>4, size)
		}
		c.left = size
	}
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	n, err := c.r.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}

// readHeader reads a fixed header into c.head and returns the remaining
// length it declares (MQTT 3.1.1 §2.2.3: at most four 7-bit digits).
func (c *limitConn) readHeader() (int, error) {
	b, err := c.r.ReadByte()
	if err != nil {
		return 0, err
	}
	c.hdr[0] = b
	size, mult := 0, 1
	for i := 1; ; i++ {
		if i > 4 {
			return 0, errors.New("malformed MQTT remaining length from the broker")
		}
		d, err := c.r.ReadByte()
		if err != nil {
			return 0, err
		}
		c.hdr[i] = d
		size += int(d&0x7f) * mult
		mult <<= 7
		if d&0x80 == 0 {
			c.head = c.hdr[:i+1]
			return size, nil
		}
	}
}

// openLimited is paho's own way to connect (its openConnection, which it
// does not export), with the connection wrapped in a limitConn.
func openLimited(max int, onDrop func(int)) mqtt.OpenConnectionFunc {
	return func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		var (
			conn net.Conn
			err  error
		)
		switch uri.Scheme {
		case "ws", "wss":
			var tlsc *tls.Config
			if uri.Scheme == "wss" {
				tlsc = o.TLSConfig
			}
			u := *uri
			u.User = nil
			conn, err = mqtt.NewWebsocket(u.String(), tlsc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
		case "mqtt", "tcp":
			conn, err = o.Dialer.Dial("tcp", uri.Host)
		case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
			conn, err = tls.DialWithDialer(o.Dialer, "tcp", uri.Host, o.TLSConfig)
		default:
			return nil, fmt.Errorf("unknown MQTT scheme %q", uri.Scheme)
		}
		if err != nil {
			return nil, err
		}
		return newLimitConn(conn, max, onDrop), nil
	}
}
