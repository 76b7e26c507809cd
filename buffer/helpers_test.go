package buffer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected clock of the tests: time moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testStore opens a store on a real file under t.TempDir. Like bbolt's
// btesting helper it registers a cleanup that closes the store and runs the
// full consistency check on the file, so every test also asserts that it
// left a sound file behind.
type testStore struct {
	*Store
	t    testing.TB
	opts Options
}

func openTest(t testing.TB, opts Options) *testStore {
	t.Helper()
	return openTestAt(t, filepath.Join(t.TempDir(), "buffer.db"), opts)
}

func openTestAt(t testing.TB, path string, opts Options) *testStore {
	t.Helper()
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ts := &testStore{Store: s, t: t, opts: opts}
	t.Cleanup(func() {
		if err := ts.Store.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := CheckFile(path); err != nil {
			t.Errorf("consistency check after test: %v", err)
		}
	})
	return ts
}

// reopen closes the store and opens the same file again.
func (ts *testStore) reopen() {
	ts.t.Helper()
	if err := ts.Store.Close(); err != nil {
		ts.t.Fatalf("Close: %v", err)
	}
	s, err := Open(ts.path, ts.opts)
	if err != nil {
		ts.t.Fatalf("reopen: %v", err)
	}
	ts.Store = s
}

func (ts *testStore) mustAppend(queue string, recs ...Record) []Record {
	ts.t.Helper()
	if err := ts.Append(context.Background(), queue, recs); err != nil {
		ts.t.Fatalf("Append: %v", err)
	}
	return recs
}

func (ts *testStore) mustPeek(queue string, max int) []Record {
	ts.t.Helper()
	recs, err := ts.Peek(queue, max)
	if err != nil {
		ts.t.Fatalf("Peek: %v", err)
	}
	return recs
}

func recs(n int, size int, at time.Time, tag string) []Record {
	out := make([]Record, n)
	for i := range out {
		data := fmt.Appendf(nil, "%s-%d-", tag, i)
		for len(data) < size {
			data = append(data, 'x')
		}
		out[i] = Record{Time: at.Add(time.Duration(i) * time.Millisecond), Data: data}
	}
	return out
}

func seqsOf(rs []Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
