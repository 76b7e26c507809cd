// Command gwtest is the test bench's stand-in for a gateway's packet
// forwarder and syslog daemon, for the shell scripts under scripts/:
//
//	gwtest push -addr 127.0.0.1:1700 [-wait 20s]   send PUSH_DATA until a PUSH_ACK answers (exit 0)
//	gwtest pull -addr 127.0.0.1:1700 [-wait 20s]   send PULL_DATA until a PULL_ACK answers (exit 0)
//	gwtest freeport                               print a free UDP port on 127.0.0.1
//	gwtest canbind ADDR...                        exit 0 when every address (udp:HOST:PORT or
//	                                              tcp:HOST:PORT) can be bound now
//	gwtest syslog -socket /dev/log -out FILE      receive syslog datagrams, one line each, until killed
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gwtest push|pull|freeport|canbind|syslog [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "push":
		err = push(os.Args[2:])
	case "pull":
		err = pull(os.Args[2:])
	case "canbind":
		err = canbind(os.Args[2:])
	case "freeport":
		err = freeport()
	case "syslog":
		err = syslogd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gwtest:", err)
		os.Exit(1)
	}
}

// push sends a GWMP PUSH_DATA (a status report of gateway AA555A0000000101)
// every second until the PUSH_ACK with its token comes back.
func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	addr := fs.String("addr", "", "agent's UDP address")
	wait := fs.Duration("wait", 20*time.Second, "give up after")
	version := fs.Int("version", 2, "GWMP protocol version (1 or 2)")
	_ = fs.Parse(args)
	stat := []byte(`{"stat":{"time":"2026-01-01 00:00:00 GMT","rxnb":0,"rxok":0,"rxfw":0,"ackr":100.0,"dwnb":0,"txnb":0}}`)
	return exchange("push", *addr, *wait, byte(*version), 0x00, 0x01, "PUSH_ACK", stat)
}

// pull sends a GWMP PULL_DATA (gateway AA555A0000000101's keepalive for
// the downlink path) every second until the PULL_ACK with its token comes
// back.
func pull(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ExitOnError)
	addr := fs.String("addr", "", "agent's UDP address")
	wait := fs.Duration("wait", 20*time.Second, "give up after")
	_ = fs.Parse(args)
	return exchange("pull", *addr, *wait, 2, 0x02, 0x04, "PULL_ACK", nil)
}

// exchange sends a datagram of type typ from gateway AA555A0000000101 once a
// second until the answer of type ack with its token comes back.
func exchange(cmd, addr string, wait time.Duration, version, typ, ack byte, ackName string, body []byte) error {
	if addr == "" {
		return fmt.Errorf("%s: -addr is required", cmd)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(wait)
	buf := make([]byte, 64)
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		tok := uint16(time.Now().UnixNano())
		pkt := append([]byte{version, byte(tok >> 8), byte(tok), typ, 0xAA, 0x55, 0x5A, 0x00, 0x00, 0x00, 0x01, 0x01}, body...)
		sent := time.Now()
		if _, err := conn.Write(pkt); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(sent.Add(time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			// Not up yet (ECONNREFUSED comes back at once) or no answer:
			// try again, once a second.
			time.Sleep(time.Until(sent.Add(time.Second)))
			continue
		}
		if want := []byte{version, byte(tok >> 8), byte(tok), ack}; !bytes.Equal(buf[:n], want) {
			return fmt.Errorf("answer % x, want %s % x", buf[:n], ackName, want)
		}
		fmt.Printf("%s from %s (token %04x, attempt %d)\n", ackName, addr, tok, attempt)
		return nil
	}
	return fmt.Errorf("no %s from %s within %v", ackName, addr, wait)
}

// canbind tells whether every address can be bound at this moment.
func canbind(addrs []string) error {
	for _, a := range addrs {
		network, addr, ok := strings.Cut(a, ":")
		if !ok {
			return fmt.Errorf("canbind %q: want udp:HOST:PORT or tcp:HOST:PORT", a)
		}
		var c interface{ Close() error }
		var err error
		switch network {
		case "udp":
			c, err = net.ListenPacket("udp", addr)
		case "tcp":
			c, err = net.Listen("tcp", addr)
		default:
			return fmt.Errorf("canbind %q: want udp or tcp", a)
		}
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func freeport() error {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(c.LocalAddr().(*net.UDPAddr).Port)
	return nil
}

// syslogd is a minimal syslog receiver on a unix datagram socket.
func syslogd(args []string) error {
	fs := flag.NewFlagSet("syslog", flag.ExitOnError)
	socket := fs.String("socket", "/dev/log", "unix datagram socket to listen on")
	out := fs.String("out", "", "file to append lines to")
	_ = fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("syslog: -out is required")
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: *socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	_ = os.Chmod(*socket, 0o666)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() { <-sig; c.Close() }()
	defer os.Remove(*socket)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		fmt.Fprintln(f, strings.TrimRight(string(buf[:n]), "\n"))
	}
}
