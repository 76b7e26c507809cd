package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Exit codes of the "edgeflow buffer check FILE" command (see ExitCode).
const (
	ExitOK      = 0
	ExitDamaged = 1
	ExitLocked  = 75 // EX_TEMPFAIL: the file is in use, not damaged
)

// CheckFile vets a buffer file without changing it: it opens it read-only,
// runs bbolt's consistency check and reads every key and value of every
// bucket. It returns nil for a good file, an error wrapping ErrLocked when
// another process holds it, and an error wrapping ErrDamaged otherwise.
//
// A damaged page can make bbolt panic or fault; both are recovered here,
// but a panic in a goroutine bbolt starts itself cannot be, which is why
// the agent calls this in a child process ("edgeflow buffer check FILE").
func CheckFile(path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic: %v", ErrDamaged, r)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return fmt.Errorf("%w: empty file", ErrDamaged)
	}
	// PreLoadFreelist reads the freelist here, where a fault is recovered,
	// rather than in the goroutine tx.Check starts, where it kills the process.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout, PreLoadFreelist: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		// A file shorter than its high-water mark was truncated; reading
		// past the end would be a SIGBUS.
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: file is %d bytes, its pages reach %d", ErrDamaged, fi.Size(), tx.Size())
		}
		if tx.Bucket(metaBucket) == nil {
			return fmt.Errorf("%w: not a buffer file (no meta bucket)", ErrDamaged)
		}
		// Walk first, in this goroutine: a bad page panics here, where it
		// is recovered, before tx.Check reads it again in its own goroutine.
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return walkBucket(name, b)
		}); err != nil {
			return err
		}
		var problems []string
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: %d consistency errors, first: %s", ErrDamaged, len(problems), problems[0])
		}
		return nil
	})
}

// walkBucket touches every key and value, so that every page is read and
// every record header is decoded.
func walkBucket(name []byte, b *bolt.Bucket) error {
	isRec := bytes.HasPrefix(name, []byte("r/"))
	isDL := bytes.HasPrefix(name, []byte("d/"))
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				if err := walkBucket(k, nb); err != nil {
					return err
				}
			}
			continue
		}
		var err error
		switch {
		case isRec:
			_, err = decodeRecord(k, v)
		case isDL:
			_, err = decodeDeadLetter(k, v)
		}
		if err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
	}
	return nil
}

// ExitCode maps CheckFile's result to the check command's exit status.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrLocked):
		return ExitLocked
	default:
		return ExitDamaged
	}
}

// CommandCheck returns an Options.Check that runs name with args and the
// file's path appended, in a child process, so that a bbolt panic kills the
// child and not the agent. Exit 0 is a good file, ExitLocked a locked one,
// anything else (including a crash or the timeout) a damaged one.
//
// The agent uses CommandCheck(os.Args[0], "buffer", "check").
func CommandCheck(timeout time.Duration, name string, args ...string) func(path string) error {
	return func(path string) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, append(append([]string(nil), args...), path)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(out.String())
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == ExitLocked {
			return fmt.Errorf("%w: %s", ErrLocked, msg)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: check timed out after %s", ErrDamaged, timeout)
		}
		if errors.As(err, &ee) {
			return fmt.Errorf("%w: check exited with %v: %s", ErrDamaged, err, msg)
		}
		// The checker itself could not run: that is not the file's fault.
		return fmt.Errorf("buffer: running check: %w", err)
	}
}
