package buffer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"edgeflow/buffer"
)

// A connection's sender: take the head, send it, then ack what was
// delivered and dead-letter what the endpoint refused for good.
func Example() {
	dir, _ := os.MkdirTemp("", "buffer-example")
	defer os.RemoveAll(dir)

	s, err := buffer.Open(filepath.Join(dir, "buffer.db"), buffer.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	rx := time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)
	batch := []buffer.Record{
		{Time: rx, Data: []byte(`{"fcnt":1}`)},
		{Time: rx.Add(time.Second), Data: []byte(`{"fcnt":2}`)},
	}
	if err := s.Append(context.Background(), "Actility To Cayenne", batch); err != nil {
		log.Fatal(err) // not "full": a full buffer drops its oldest records instead
	}

	head, _ := s.Peek("Actility To Cayenne", 100) // copied out: no transaction held while sending
	for _, r := range head {
		status := 200 // POST r.Data ...
		if r.Seq == head[1].Seq {
			status = 400
		}
		switch {
		case status < 300:
			_ = s.Ack("Actility To Cayenne", []uint64{r.Seq})
		case status == 400:
			_ = s.DeadLetter("Actility To Cayenne", r.Seq, "http 400")
		}
	}
	st := s.Stats("Actility To Cayenne")
	fmt.Println("waiting:", st.Count, "dead letters:", st.DeadLetters)
	// Output: waiting: 0 dead letters: 1
}
