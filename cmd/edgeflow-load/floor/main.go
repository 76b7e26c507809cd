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
)

func main() {
	udp := flag.String("udp", "127.0.0.1:1700", "UDP address to take PUSH_DATA on")
	url := flag.String("url", "", "endpoint to POST each datagram's JSON to (empty: PUSH_ACK only)")
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
	if err := run(pc, *url, log); err != nil && ctx.Err() == nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}

// run serves pc until it is closed.
func run(pc net.PacketConn, url string, log *slog.Logger) error {
	var post func([]byte) error
	if url != "" {
		post = poster(url)
	}
	buf := make([]byte, 65535)
	ack := make([]byte, 0, gwmp.HeaderLen)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		h, err := gwmp.ParseHeader(buf[:n])
		if err != nil || h.Type != gwmp.PushData || n < gwmp.HeaderEUILen {
			continue
		}
		ack, _ = gwmp.PushAckPacket{Version: h.Version, Token: h.Token}.AppendBinary(ack[:0])
		if _, err := pc.WriteTo(ack, from); err != nil {
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
// is kept for the next.
func poster(url string) func([]byte) error {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}
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
