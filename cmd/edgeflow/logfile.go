package main

import (
	"os"
	"sync"
)

// logFileMax is the size at which the fallback log file is rotated: with
// one old file kept, the log never takes more than twice this on flash
// (about ten thousand lines each, days of INFO lines).
const logFileMax = 1 << 20

// logFileName is the fallback log's name inside the state directory.
const logFileName = "edgeflow.log"

// rotatingFile is the log of last resort, when neither journald nor syslog
// takes the lines: appended to path, renamed to path.1 (replacing the
// previous one) when the next line would pass max bytes. It never grows
// without bound and never loses the newest lines.
type rotatingFile struct {
	path string
	max  int64

	mu   sync.Mutex
	f    *os.File
	size int64
}

func newRotatingFile(path string, max int64) *rotatingFile {
	return &rotatingFile{path: path, max: max}
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		r.f.Close()
		r.f = nil
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			os.Remove(r.path) // never grow past the cap
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// open opens (or creates) the file and learns its size: a file left by an
// earlier run counts towards the cap.
func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Close closes the file; a later Write opens it again.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
