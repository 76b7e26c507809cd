package buffer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Compact rewrites the file without its free pages. bbolt never shrinks a
// file, so after a long outage drains the file stays at its peak size and
// its freelist (rewritten on every commit) stays long. The store compacts on
// its own when the file is over 8 MiB and over 4× what its records need;
// Compact forces it.
func (s *Store) Compact() error {
	return s.submit(context.Background(), &op{exclusive: func() error {
		_, _, err := s.compact()
		return err
	}})
}

func (s *Store) maybeCompact() {
	size := s.fileSize()
	need := s.pagesFor(s.live.Load()) + 256<<10
	if size < compactMinFile || size < compactRatio*need {
		return
	}
	now := s.opts.Now()
	if now.Sub(s.lastCompact) < compactMinPeriod {
		return
	}
	s.lastCompact = now
	_, _, _ = s.compact()
}

// compact copies the live data into a temp file, syncs it, and renames it
// over the old file (then syncs the directory), so a crash at any point
// leaves either the old file or the new one, both whole. It runs on the
// writer goroutine, so no write can slip in between copy and rename.
func (s *Store) compact() (before, after int64, err error) {
	before = s.fileSize()
	tmp := s.path + tmpCompact
	_ = os.Remove(tmp)
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
			s.log.Error("Buffer compaction failed", "error", err.Error())
		}
	}()
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return before, 0, err
	}
	err = s.copyInto(dst)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err != nil {
		return before, 0, err
	}
	s.opts.hit("compact-before-rename")

	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if err := s.db.Close(); err != nil {
		s.log.Warn("Closing buffer before compaction swap", "error", err.Error())
	}
	renameErr := os.Rename(tmp, s.path)
	if renameErr == nil {
		renameErr = syncDir(filepath.Dir(s.path))
	}
	s.opts.hit("compact-after-rename")
	// Reopen whichever file is now in place: the old one if the rename
	// failed, the compacted one otherwise.
	db, err := s.openDB(s.path)
	if err != nil {
		s.db = nil
		s.log.Error("BUFFER UNUSABLE: cannot reopen after compaction; restart the agent", "error", err.Error())
		return before, 0, err
	}
	s.db = db
	if renameErr != nil {
		return before, before, fmt.Errorf("buffer: compaction rename: %w", renameErr)
	}
	after = s.fileSize()
	s.m.compactions.Inc()
	s.m.fileBytes.Set(float64(after))
	s.log.Info("Buffer compacted", "before_bytes", before, "after_bytes", after, "live_bytes", s.live.Load())
	return before, after, nil
}

func (s *Store) copyInto(dst *bolt.DB) (err error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.panicked("compact", r)
		}
	}()
	return bolt.Compact(dst, s.db, 4<<20)
}
