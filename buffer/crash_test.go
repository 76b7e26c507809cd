package buffer

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// crashChildAppend runs in a child process: several goroutines append
// small batches forever and print "C seq" for every seq whose Append
// returned; one goroutine acks from the head, printing "P seq" before the
// ack (it may commit before the kill or not) and "A seq" once it returned. The parent kills it with SIGKILL at a random moment.
func crashChildAppend(path string) {
	s, err := Open(path, Options{CommitInterval: 2 * time.Millisecond, MaxBatch: 64})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	if s.m.damaged.Get() != 0 {
		fmt.Println("ERR file was set aside")
		os.Exit(2)
	}
	var out sync.Mutex
	print := func(tag string, seqs []uint64) {
		var b strings.Builder
		for _, q := range seqs {
			fmt.Fprintf(&b, "%s %d\n", tag, q)
		}
		out.Lock()
		os.Stdout.WriteString(b.String()) // unbuffered: a line out is a line the parent gets
		out.Unlock()
	}
	for g := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(g)))
			for {
				batch := recs(1+r.IntN(20), 50+r.IntN(300), time.Now(), "c")
				if err := s.Append(context.Background(), "q", batch); err != nil {
					fmt.Println("ERR", err)
					os.Exit(2)
				}
				print("C", seqsOf(batch))
			}
		}()
	}
	for {
		head, err := s.Peek("q", 10)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		if len(head) > 0 {
			print("P", seqsOf(head)) // ack in flight: may or may not commit
			if err := s.Ack("q", seqsOf(head)); err != nil {
				fmt.Println("ERR", err)
				os.Exit(2)
			}
			print("A", seqsOf(head))
		}
		// The child paces its acks against the appender's commits, so
		// that kills land between both kinds (a real process: real time).
		time.Sleep(time.Millisecond)
	}
}

func childCmd(t *testing.T, role, path string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BUFFER_TEST_CHILD="+role, "BUFFER_TEST_PATH="+path)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestCrashKeepsCommittedRecords kills an appending process with SIGKILL at
// random points, several times on the same file: every seq it reported as
// committed must still be there unless its ack was reported too, every
// reported ack must hold, and the file must pass the consistency check.
func TestCrashKeepsCommittedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash loop")
	}
	path := filepath.Join(t.TempDir(), "buffer.db")
	committed := map[uint64]bool{}
	acked := map[uint64]bool{}
	inflight := map[uint64]bool{}
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 8 {
		lines := killChild(t, "append", path, 200+r.IntN(3000), func(line string) {
			tag, num, _ := strings.Cut(line, " ")
			seq, err := strconv.ParseUint(num, 10, 64)
			switch {
			case tag == "ERR" || err != nil:
				t.Fatalf("round %d: child: %s", round, line)
			case tag == "C":
				committed[seq] = true
			case tag == "A":
				acked[seq] = true
			case tag == "P":
				inflight[seq] = true
			}
		})
		if err := CheckFile(path); err != nil {
			t.Fatalf("round %d: file fails the check after SIGKILL: %v", round, err)
		}
		present := seqsInFile(t, path)
		for seq := range committed {
			if acked[seq] && present[seq] {
				t.Fatalf("round %d: seq %d acked but still there", round, seq)
			}
			if !acked[seq] && !inflight[seq] && !present[seq] {
				t.Fatalf("round %d: committed seq %d lost", round, seq)
			}
		}
		t.Logf("round %d: killed after %d lines; %d committed, %d acked so far, %d in file",
			round, lines, len(committed), len(acked), len(present))
	}
	if m, _ := filepath.Glob(path + ".damaged*"); len(m) != 0 {
		t.Fatalf("file set aside during crash loop: %v", m)
	}
}

func seqsInFile(t *testing.T, path string) map[uint64]bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[uint64]bool{}
	_ = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(recBucket("q"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			seq, _ := keySeq(k)
			out[seq] = true
			return nil
		})
	})
	return out
}

// crashChildCompact fills and mostly drains a store, prints the seqs that
// remain, then compacts with a failpoint that SIGKILLs the process.
func crashChildCompact(path, failpoint string) {
	s, err := Open(path, Options{failpoint: killAt(failpoint)})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	var all []Record
	for range 20 {
		batch := recs(500, 200, time.Unix(1, 0), "x")
		if err := s.Append(context.Background(), "q", batch); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		all = append(all, batch...)
	}
	if err := s.AckThrough("q", all[len(all)-11].Seq); err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	for _, r := range all[len(all)-10:] {
		fmt.Printf("C %d\n", r.Seq)
	}
	_ = s.Compact()
	fmt.Println("ERR survived the failpoint")
}

// TestCompactionCrash kills the process inside compaction, before and after
// the rename: either way the file must open unharmed with every record.
func TestCompactionCrash(t *testing.T) {
	for _, fp := range []string{"compact-before-rename", "compact-after-rename"} {
		t.Run(fp, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "buffer.db")
			out, _ := childCmd(t, "compact", path, "BUFFER_TEST_FAILPOINT="+fp).Output()
			var want []uint64
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				tag, num, _ := strings.Cut(line, " ")
				if tag != "C" {
					t.Fatalf("child: %q", line)
				}
				seq, _ := strconv.ParseUint(num, 10, 64)
				want = append(want, seq)
			}
			if len(want) != 10 {
				t.Fatalf("child printed %d seqs", len(want))
			}
			s := openTestAt(t, path, Options{})
			if s.m.damaged.Get() != 0 {
				t.Fatal("file set aside after a crash in compaction")
			}
			if _, err := os.Stat(path + tmpCompact); err == nil {
				t.Fatal("temp file left behind")
			}
			got := seqsOf(s.mustPeek("q", 100))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after crash: %v, want %v", got, want)
			}
		})
	}
}

func killAt(failpoint string) func(string) {
	return func(name string) {
		if name == failpoint {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

// crashChildCommit appends one batch that commits, prints its seqs, then
// appends a second batch and dies at the failpoint.
func crashChildCommit(path, failpoint string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	first := recs(5, 100, time.Unix(1, 0), "first")
	if err := s.Append(context.Background(), "q", first); err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	for _, r := range first {
		fmt.Printf("C %d\n", r.Seq)
	}
	s.opts.failpoint = killAt(failpoint) // the writer reads it only when it commits
	// The second is a batch: two queues and a state write, all or nothing.
	var b Batch
	b.Append("q", recs(5, 100, time.Unix(2, 0), "second"))
	b.States(StateWrite{Bucket: "marks", KV: map[string][]byte{"second": []byte("1")}})
	b.Append("q2", recs(3, 100, time.Unix(2, 0), "second"))
	_ = s.Commit(context.Background(), &b)
	fmt.Println("ERR survived the failpoint")
}

// TestCommitCrash kills the writer just before a commit and just after it
// (before the caller hears back): the file must be whole, with the first
// append, and the second batch (two queues and a state write) either all
// there or not at all.
func TestCommitCrash(t *testing.T) {
	for _, tc := range []struct {
		failpoint  string
		wantSecond bool
	}{{"before-commit", false}, {"after-commit", true}} {
		t.Run(tc.failpoint, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "buffer.db")
			out, _ := childCmd(t, "commit", path, "BUFFER_TEST_FAILPOINT="+tc.failpoint).Output()
			if n := strings.Count(string(out), "C "); n != 5 || strings.Contains(string(out), "ERR") {
				t.Fatalf("child output: %q", out)
			}
			s := openTestAt(t, path, Options{})
			if s.m.damaged.Get() != 0 {
				t.Fatal("file set aside after a crash around a commit")
			}
			want, want2, wantMark := 5, 0, 0
			if tc.wantSecond {
				want, want2, wantMark = 10, 3, 1
			}
			marks, err := s.GetStates("marks")
			if err != nil {
				t.Fatal(err)
			}
			got, got2 := s.mustPeek("q", 100), s.mustPeek("q2", 100)
			if len(got) != want || len(got2) != want2 || len(marks) != wantMark {
				t.Fatalf("after the crash: %d records in q, %d in q2, %d states; want %d, %d, %d",
					len(got), len(got2), len(marks), want, want2, wantMark)
			}
		})
	}
}

// crashChildBatch runs in a child process: several goroutines commit
// batches forever, each an append to "q", a state write and an append to
// "q2" under one token, and print "C token" once Commit returned. The
// parent kills it with SIGKILL at a random moment.
func crashChildBatch(path string) {
	s, err := Open(path, Options{CommitInterval: 2 * time.Millisecond, MaxBatch: 64})
	if err != nil || s.m.damaged.Get() != 0 {
		fmt.Println("ERR", err, "or file set aside")
		os.Exit(2)
	}
	for g := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(g)))
			for i := 0; ; i++ {
				tok := fmt.Sprintf("%d-%d-%d", os.Getpid(), g, i)
				var b Batch
				b.Append("q", recs(1+r.IntN(5), 50+r.IntN(300), time.Now(), tok))
				b.States(StateWrite{Bucket: "marks", KV: map[string][]byte{tok: []byte("1")}})
				b.Append("q2", recs(1, 50, time.Now(), tok))
				if err := s.Commit(context.Background(), &b); err != nil {
					fmt.Println("ERR", err)
					os.Exit(2)
				}
				os.Stdout.WriteString("C " + tok + "\n") // one write: whole lines
			}
		}()
	}
	select {}
}

// TestCrashKeepsBatchesWhole kills a process committing batches with
// SIGKILL at random points, several times on the same file: each batch's
// appends and state write are all there or none, and every batch reported
// committed is there.
func TestCrashKeepsBatchesWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash loop")
	}
	path := filepath.Join(t.TempDir(), "buffer.db")
	committed := map[string]bool{}
	r := rand.New(rand.NewPCG(9, 9))
	for round := range 8 {
		lines := killChild(t, "batch", path, 50+r.IntN(1000), func(line string) {
			tag, tok, _ := strings.Cut(line, " ")
			if tag != "C" {
				t.Fatalf("round %d: child: %s", round, line)
			}
			committed[tok] = true
		})
		if err := CheckFile(path); err != nil {
			t.Fatalf("round %d: file fails the check after SIGKILL: %v", round, err)
		}
		q, q2, marks := batchTokens(t, path)
		for tok := range marks {
			if !q[tok] || !q2[tok] {
				t.Fatalf("round %d: batch %s: state written, appends in q %v, q2 %v", round, tok, q[tok], q2[tok])
			}
		}
		for tok := range q {
			if !marks[tok] || !q2[tok] {
				t.Fatalf("round %d: batch %s: append in q without the rest", round, tok)
			}
		}
		if len(q2) != len(marks) {
			t.Fatalf("round %d: %d batches in q2, %d states", round, len(q2), len(marks))
		}
		for tok := range committed {
			if !marks[tok] {
				t.Fatalf("round %d: committed batch %s lost", round, tok)
			}
		}
		t.Logf("round %d: killed after %d lines; %d batches in the file", round, lines, len(marks))
	}
}

// batchTokens reads the batch tokens of crashChildBatch's file: those of
// the records of q and q2 (a record's data starts "token-i-") and the state
// keys.
func batchTokens(t *testing.T, path string) (q, q2, marks map[string]bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	read := func(tx *bolt.Tx, name []byte, rec bool) map[string]bool {
		out := map[string]bool{}
		if b := tx.Bucket(name); b != nil {
			_ = b.ForEach(func(k, v []byte) error {
				if !rec {
					out[string(k)] = true
					return nil
				}
				r, err := decodeRecord(k, v)
				if err != nil {
					t.Errorf("record %x: %v", k, err)
					return nil
				}
				parts := strings.SplitN(string(r.Data), "-", 4) // pid-g-i-n-xxx
				out[strings.Join(parts[:3], "-")] = true
				return nil
			})
		}
		return out
	}
	_ = db.View(func(tx *bolt.Tx) error {
		q, q2, marks = read(tx, recBucket("q"), true), read(tx, recBucket("q2"), true), read(tx, stateBucket("marks"), false)
		return nil
	})
	return q, q2, marks
}

// killChild runs the child in mode on path, hands each line it prints to
// onLine, and SIGKILLs it after killAfter lines; it returns how many lines
// came. A child that ends on its own fails the test: the kill is the point.
func killChild(t *testing.T, mode, path string, killAfter int, onLine func(string)) int {
	t.Helper()
	cmd := childCmd(t, mode, path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	lines, killed := 0, false
	for sc.Scan() {
		onLine(sc.Text())
		if lines++; lines == killAfter && !killed {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("%s child ended on its own after %d lines", mode, lines)
	}
	return lines
}
