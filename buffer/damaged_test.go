package buffer

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// buildFile writes a buffer file with some records and returns its path.
func buildFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "buffer.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.Append(t.Context(), "q", recs(100, 300, time.Unix(int64(i), 0), "r")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pageOf finds a page of the file: the records bucket's root (a branch)
// or a leaf in the middle of the records.
func pageOf(t *testing.T, path string, leaf bool) (id int, pageSize int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pageSize = db.Info().PageSize
	_ = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(recBucket("q"))
		id = int(b.Root())
		if !leaf {
			return nil
		}
		var leaves []int
		for i := 2; i < int(tx.Size())/pageSize; i++ {
			if info, err := tx.Page(i); err == nil && info != nil && info.Type == "leaf" {
				leaves = append(leaves, i)
			}
		}
		id = leaves[len(leaves)/2]
		return nil
	})
	return id, pageSize
}

func overwrite(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func junk(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var damages = []struct {
	name   string
	damage func(t *testing.T, path string)
}{
	{"zero_bytes", func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}},
	{"truncated", func(t *testing.T, path string) {
		fi, _ := os.Stat(path)
		if err := os.Truncate(path, fi.Size()/4); err != nil {
			t.Fatal(err)
		}
	}},
	{"torn_page", func(t *testing.T, path string) {
		// The second half of the records' root page never reached the disk.
		id, ps := pageOf(t, path, false)
		overwrite(t, path, int64(id*ps+ps/2), make([]byte, ps/2))
	}},
	{"not_a_database", func(t *testing.T, path string) {
		if err := os.WriteFile(path, bytes.Repeat([]byte("not a bolt file\n"), 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	{"both_metas_clobbered", func(t *testing.T, path string) {
		_, ps := pageOf(t, path, false)
		overwrite(t, path, 0, junk(2*ps))
	}},
	{"branch_page_junk", func(t *testing.T, path string) {
		id, ps := pageOf(t, path, false)
		overwrite(t, path, int64(id*ps), junk(ps))
	}},
	{"leaf_page_junk", func(t *testing.T, path string) {
		id, ps := pageOf(t, path, true)
		overwrite(t, path, int64(id*ps), junk(ps))
	}},
	{"foreign_bolt_file", func(t *testing.T, path string) {
		_ = os.Remove(path)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone else's"))
			return err
		})
		_ = db.Close()
	}},
}

func TestDamagedFilesSetAside(t *testing.T) {
	for _, tc := range damages {
		t.Run(tc.name, func(t *testing.T) {
			path := buildFile(t)
			tc.damage(t, path)
			original := fileBytes(t, path)
			if err := CheckFile(path); !errors.Is(err, ErrDamaged) {
				t.Fatalf("CheckFile = %v, want ErrDamaged", err)
			}
			assertSetAside(t, path, original, Options{})
		})
	}
}

// TestDamagedFilesCheckedInChild runs the check the way the agent does, in
// a child process, so a panic bbolt raises in its own goroutine kills the
// child rather than the test.
func TestDamagedFilesCheckedInChild(t *testing.T) {
	t.Setenv("BUFFER_TEST_CHILD", "check")
	check := CommandCheck(time.Minute, os.Args[0])
	good := buildFile(t)
	if err := check(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	for _, tc := range damages {
		t.Run(tc.name, func(t *testing.T) {
			path := buildFile(t)
			tc.damage(t, path)
			original := fileBytes(t, path)
			if err := check(path); !errors.Is(err, ErrDamaged) {
				t.Fatalf("child check = %v, want ErrDamaged", err)
			}
			assertSetAside(t, path, original, Options{Check: check})
		})
	}
}

func assertSetAside(t *testing.T, path string, original []byte, opts Options) {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	s := openTestAt(t, path, opts)
	if s.m.damaged.Get() != 1 {
		t.Fatalf("damaged counter %d", s.m.damaged.Get())
	}
	aside := path + ".damaged-20261125T101500Z"
	if got := fileBytes(t, aside); !bytes.Equal(got, original) {
		t.Fatalf("set-aside file differs from the damaged one (%d vs %d bytes)", len(got), len(original))
	}
	if q := s.Queues(); len(q) != 0 {
		t.Fatalf("fresh store has queues %v", q)
	}
	rs := s.mustAppend("q", recs(3, 10, time.Unix(1, 0), "n")...)
	if got := s.mustPeek("q", 10); len(got) != 3 || got[0].Seq != rs[0].Seq {
		t.Fatalf("fresh store: %v", got)
	}
}

func TestSetAsideNamesDoNotCollide(t *testing.T) {
	path := buildFile(t)
	clk := newClock()
	for i := range 2 {
		if err := os.WriteFile(path, []byte(strings.Repeat("junk", 1024)), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{Now: clk.Now})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		_ = s.Close()
	}
	for _, name := range []string{".damaged-20261125T101500Z", ".damaged-20261125T101500Z-1"} {
		if _, err := os.Stat(path + name); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLockedFileIsNotDamaged(t *testing.T) {
	path := buildFile(t)
	db, err := bolt.Open(path, 0o600, nil) // another holder of the lock
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(path, Options{lockTimeout: 50 * time.Millisecond, Check: func(string) error { return nil }})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open = %v, want ErrLocked", err)
	}
	if matches, _ := filepath.Glob(path + ".damaged*"); len(matches) != 0 {
		t.Fatalf("a locked file was set aside: %v", matches)
	}
}

func TestCheckerThatCannotRunFallsBack(t *testing.T) {
	path := buildFile(t)
	check := CommandCheck(time.Minute, filepath.Join(t.TempDir(), "no-such-binary"))
	s := openTestAt(t, path, Options{Check: check})
	if st := s.Stats("q"); st.Count != 2000 {
		t.Fatalf("good file lost: %+v", st)
	}
}
