package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"edgeflow/packetfwd/gwmp"
	"edgeflow/uplink/connector"
)

func main() {
	udp := flag.String("udp", "127.0.0.1:1700", "UDP address to take PUSH_DATA on")
	url := flag.String("url", "", "endpoint to POST each datagram's JSON to (empty: PUSH_ACK only)")
	plain := flag.Bool("plain", false, "use Go's ordinary socket calls instead of the agent's raw ones")
	flag.Parse()
	// As the agent (cmd/edgeflow, agentProcs): one P, so that the two are
	// scheduled alike.
	runtime.GOMAXPROCS(1)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	pc, err := net.ListenPacket("udp", *udp)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); pc.Close() }()
	if err := run(pc, *url, !*plain, log); err != nil && ctx.Err() == nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}

// datagrams reads a datagram and answers the one read last.
type datagrams interface {
	read(buf []byte) (int, error)
	reply(b []byte) error
}

// plainUDP is a datagrams on Go's ordinary socket calls.
type plainUDP struct {
	pc   net.PacketConn
	from *net.Addr // the last sender; a pointer, as the methods take a copy
}

func newPlainUDP(pc net.PacketConn) plainUDP { return plainUDP{pc: pc, from: new(net.Addr)} }

func (p plainUDP) read(buf []byte) (int, error) {
	n, from, err := p.pc.ReadFrom(buf)
	*p.from = from
	return n, err
}

func (p plainUDP) reply(b []byte) error {
	_, err := p.pc.WriteTo(b, *p.from)
	return err
}

// run serves pc until it is closed. raw: the sockets are read and
// written as the agent does, with raw system calls (Linux), so that the
// floor differs from the agent only in the work per uplink.
func run(pc net.PacketConn, url string, raw bool, log *slog.Logger) error {
	var post func([]byte) error
	if url != "" {
		post = poster(url, raw)
	}
	var dg datagrams = newPlainUDP(pc)
	if raw {
		var err error
		if dg, err = newRawUDP(pc); err != nil {
			return err
		}
	}
	buf := make([]byte, 65535)
	ack := make([]byte, 0, gwmp.HeaderLen)
	for {
		n, err := dg.read(buf)
		if err != nil {
			return err
		}
		h, err := gwmp.ParseHeader(buf[:n])
		if err != nil || h.Type != gwmp.PushData || n < gwmp.HeaderEUILen {
			continue
		}
		ack, _ = gwmp.PushAckPacket{Version: h.Version, Token: h.Token}.AppendBinary(ack[:0])
		if err := dg.reply(ack); err != nil {
			log.Warn("push_ack", "err", err)
		}
		if post != nil {
			if err := post(buf[gwmp.HeaderEUILen:n]); err != nil {
				log.Warn("post", "err", err)
			}
		}
	}
}

// poster POSTs a body and reads the whole answer, so that the connection
// is kept for the next. raw: through the agent's socket wrapper.
func poster(url string, raw bool) func([]byte) error {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}
	if raw {
		d := &net.Dialer{}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return connector.NewRawTCP(c), nil
		}
	}
	return func(body []byte) error {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("endpoint answered %s", resp.Status)
		}
		return nil
	}
}
