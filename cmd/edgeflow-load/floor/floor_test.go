package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The floor acks each PUSH_DATA with its token and posts its JSON, and
// ignores what is not a PUSH_DATA, on the agent's raw socket calls and on
// Go's ordinary ones.
func TestFloorAcksAndPosts(t *testing.T) {
	t.Run("raw", func(t *testing.T) { testFloor(t, true, false) })
	t.Run("plain", func(t *testing.T) { testFloor(t, false, false) })
	// A socket the raw path cannot take falls back to the ordinary calls.
	t.Run("raw on a wrapped socket", func(t *testing.T) { testFloor(t, true, true) })
}

// wrapped hides the *net.UDPConn behind the interface.
type wrapped struct{ net.PacketConn }

func testFloor(t *testing.T, raw, wrap bool) {
	got := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served net.PacketConn = pc
	if wrap {
		served = wrapped{pc}
	}
	done := make(chan error, 1)
	go func() { done <- run(served, srv.URL, raw, slog.New(slog.DiscardHandler)) }()
	defer func() { pc.Close(); <-done }()

	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	json := []byte(`{"rxpk":[]}`)
	// A PULL_DATA first: no answer, and no post (the loop is sequential,
	// so a post of it would arrive before the PUSH_DATA's).
	pull := []byte{2, 0x11, 0x22, 0x02, 1, 2, 3, 4, 5, 6, 7, 8}
	push := append([]byte{2, 0xab, 0xcd, 0x00, 1, 2, 3, 4, 5, 6, 7, 8}, json...)
	for _, d := range [][]byte{pull, push} {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	ack := make([]byte, 16)
	n, err := c.Read(ack)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{2, 0xab, 0xcd, 0x01}; !bytes.Equal(ack[:n], want) {
		t.Fatalf("ack % x, want % x", ack[:n], want)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, json) {
			t.Fatalf("posted %q, want %q", b, json)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing posted")
	}
}
