package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

const (
	tmpInit    = ".init"
	tmpCompact = ".compact"
)

// openOrRecover is the start-up ladder: vet the file, open it, rebuild the
// in-memory stats; any failure that is the file's fault sets it aside and
// starts a fresh one, so the agent never crash-loops on its own data.
func (s *Store) openOrRecover() (*bolt.DB, error) {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.create()
	}
	if err != nil {
		return nil, err
	}
	var cause error
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("buffer: %s is not a regular file", s.path)
	case fi.Size() == 0:
		// bbolt would silently initialise it; an empty file is what a
		// power cut during the first initialisation leaves.
		cause = fmt.Errorf("%w: empty file", ErrDamaged)
	default:
		cause = s.opts.Check(s.path)
		if cause != nil && !errors.Is(cause, ErrDamaged) && !errors.Is(cause, ErrLocked) {
			// The checker could not run at all: that says nothing about the
			// file, so check it here rather than discard a good backlog.
			s.log.Warn("Buffer check could not run; checking in process", "error", cause.Error())
			cause = CheckFile(s.path)
		}
	}
	if errors.Is(cause, ErrLocked) {
		return nil, cause
	}
	if cause == nil {
		db, err := s.openDB(s.path)
		if errors.Is(err, ErrLocked) {
			return nil, err
		}
		if err == nil {
			if err = s.load(db); err == nil {
				return db, nil
			}
			_ = db.Close()
		}
		cause = err
	}
	if err := s.setAside(cause); err != nil {
		return nil, err
	}
	return s.create()
}

// setAside renames a damaged file out of the way, never deleting it: it may
// hold uplinks someone wants to salvage with the bbolt tool.
func (s *Store) setAside(cause error) error {
	stamp := s.opts.Now().UTC().Format("20060102T150405Z")
	dst := s.path + ".damaged-" + stamp
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.damaged-%s-%d", s.path, stamp, i)
	}
	if err := os.Rename(s.path, dst); err != nil {
		return fmt.Errorf("buffer: setting damaged file aside: %w", err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		s.log.Warn("Could not sync directory", "error", err)
	}
	s.m.damaged.Inc()
	s.log.Error("BUFFER FILE DAMAGED: set aside, starting an empty buffer; buffered uplinks in it are not delivered",
		"error", cause.Error(), "moved_to", dst)
	return nil
}

// create makes a new file under a temporary name and renames it into place,
// so a power cut during bbolt's initialisation cannot leave a half-made
// file under the real name.
func (s *Store) create() (*bolt.DB, error) {
	tmp := s.path + tmpInit
	_ = os.Remove(tmp)
	db, err := s.openDB(tmp)
	if err != nil {
		return nil, fmt.Errorf("buffer: creating %s: %w", tmp, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		return b.Put(versionKey, []byte{formatVersion})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(s.path))
	}
	if err != nil {
		return nil, fmt.Errorf("buffer: creating %s: %w", s.path, err)
	}
	db, err = s.openDB(s.path)
	if err != nil {
		return nil, fmt.Errorf("buffer: opening new %s: %w", s.path, err)
	}
	s.resetStats()
	return db, nil
}

func (s *Store) resetStats() {
	s.mu.Lock()
	for q := range s.queues {
		s.m.set.UnregisterMetric(s.m.depthName(q))
	}
	s.queues = make(map[string]*queueState)
	s.mu.Unlock()
	s.live.Store(0)
}

// load rebuilds the in-memory stats with one walk over every record; it
// doubles as a last check that the file reads end to end.
func (s *Store) load(db *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic reading: %v", ErrDamaged, r)
		}
	}()
	queues := make(map[string]*queueState)
	get := func(q string) *queueState {
		st := queues[q]
		if st == nil {
			st = &queueState{}
			queues[q] = st
		}
		return st
	}
	var live int64
	err = db.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(metaBucket)
		if mb == nil {
			return fmt.Errorf("%w: not a buffer file (no meta bucket)", ErrDamaged)
		}
		if v := mb.Get(versionKey); len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("%w: unknown format version %v", ErrDamaged, v)
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n := string(name)
			switch {
			case len(n) > 2 && n[:2] == "r/":
				st := get(n[2:])
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if len(k) != 8 || len(v) < recHeader {
						return fmt.Errorf("%w: bad record in %q", ErrDamaged, n)
					}
					if st.count == 0 {
						st.oldest = recordTime(v)
					}
					st.count++
					st.bytes += recDataLen(v)
					st.stored += int64(len(v) + elemOverhead)
				}
				live += st.stored
			case len(n) > 2 && n[:2] == "d/":
				st := get(n[2:])
				var stored int64
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if len(k) != 8 || len(v) < dlHeader {
						return fmt.Errorf("%w: bad dead letter in %q", ErrDamaged, n)
					}
					st.dead++
					st.deadBytes += dlDataLen(v)
					stored += int64(len(v) + elemOverhead)
				}
				st.stored += stored
				live += stored
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.resetStats()
	s.mu.Lock()
	s.queues = queues
	for q, st := range queues {
		s.m.depth(q).Set(float64(st.count))
	}
	s.mu.Unlock()
	s.live.Store(live)
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename durable: without it a power cut can bring back
// the old directory entry.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
