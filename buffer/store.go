package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Store is a set of durable FIFO queues in one bbolt file. All methods are
// safe for concurrent use.
//
// An error wrapping ErrDamaged from a running store means bbolt met a
// damaged page (the panic was recovered). The store stays open but that
// part of the file is unreadable: Close it and Open the path again, which
// checks the file and sets it aside if it is damaged.
type Store struct {
	path string
	opts Options
	log  *slog.Logger
	m    *storeMetrics

	// dbMu guards the db handle, which compaction swaps; readers hold it
	// shared, the swap exclusive.
	dbMu sync.RWMutex
	db   *bolt.DB

	// mu guards queues: the in-memory stats that make Stats cheap.
	mu     sync.Mutex
	queues map[string]*queueState

	dataLimit    int64         // bytes of pages in use allowed (share of MaxSize)
	live         atomic.Int64  // stored bytes of all records and dead letters
	ratio        float64       // page bytes per live byte; writer goroutine only
	lastCompact  time.Time     // writer goroutine only
	fullLogged   time.Time     // writer goroutine only
	fullUnlogged int           // writer goroutine only
	lastCompany  time.Time     // writer goroutine only: last commit with more than acks
	companyGap   time.Duration // writer goroutine only: smoothed time between them

	ops    chan *op
	quit   chan struct{}
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
}

// queueState is the in-memory summary of one queue.
type queueState struct {
	count     int
	bytes     int64 // data bytes
	oldest    time.Time
	dead      int
	deadBytes int64 // data bytes
	stored    int64 // what the budget counts: values + per-element overhead
}

// QueueStats describes one queue.
type QueueStats struct {
	Count       int       // records waiting
	Bytes       int64     // their data bytes
	Oldest      time.Time // reception time of the head record; zero if empty
	DeadLetters int
}

// Open opens or creates the buffer file at path. A file that cannot be used
// is renamed aside (path + ".damaged-<UTC time>") and a fresh one started;
// Open fails only for errors that a new file would not cure (the file is
// locked by another process, the directory is not writable).
func Open(path string, opts Options) (*Store, error) {
	opts, notes := opts.withDefaults()
	s := &Store{
		path:      path,
		opts:      opts,
		log:       opts.Logger.With("path", path),
		m:         newStoreMetrics(opts.Metrics),
		queues:    make(map[string]*queueState),
		dataLimit: opts.MaxSize * dataShareNum / dataShareDen,
		ratio:     defaultRatio,
		ops:       make(chan *op),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, n := range notes {
		s.log.Warn("Adjusted buffer option", "note", n)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("buffer: %w", err)
	}
	db, err := s.openOrRecover()
	if err != nil {
		return nil, err
	}
	s.db = db
	// A temp file left by an interrupted create or compaction never got
	// renamed into place, so it is incomplete by construction. Removed only
	// now that this process holds the file lock.
	for _, suffix := range []string{tmpInit, tmpCompact} {
		if err := os.Remove(path + suffix); err == nil {
			s.log.Info("Removed leftover temp file", "file", path+suffix)
		}
	}
	s.lastCompact = opts.Now()
	s.updateFileGauge()
	go s.run()
	s.log.Info("Buffer open", "queues", len(s.queues), "live_bytes", s.live.Load(),
		"max_size", opts.MaxSize)
	return s, nil
}

// Close commits the writes the writer has already taken and closes the
// file; calls that have not been taken yet fail with ErrClosed, so stop the
// producers (and append what they hold in memory) before calling Close.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		<-s.done
		s.dbMu.Lock()
		defer s.dbMu.Unlock()
		if s.db != nil {
			err = s.db.Close()
			s.db = nil
		}
	})
	return err
}

// Path is the file the store uses.
func (s *Store) Path() string { return s.path }

func (s *Store) boltOptions() *bolt.Options {
	mmap := 4 << 20
	if int64(mmap) > s.opts.MaxSize {
		mmap = int(s.opts.MaxSize)
	}
	return &bolt.Options{
		Timeout:         s.opts.lockTimeout,
		FreelistType:    bolt.FreelistMapType,
		MaxSize:         int(s.opts.MaxSize),
		InitialMmapSize: mmap,
		// NoSync and NoFreelistSync stay false: the first loses data on a
		// power cut, the second makes Open walk every page, which is where
		// a damaged file panics.
	}
}

func (s *Store) openDB(path string) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic opening: %v", ErrDamaged, r)
		}
	}()
	dropPageCache(path)
	db, err = bolt.Open(path, 0o600, s.boltOptions())
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, err
	}
	// Growth step: bbolt's 16 MiB default would make MaxSize refuse to
	// grow 16 MiB early and costs a big truncate on small partitions.
	db.AllocSize = int(min(max(s.opts.MaxSize/32, 64<<10), 4<<20))
	return db, nil
}

// view runs a read transaction, turning a panic on a damaged page into an
// error instead of a dead process.
func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.panicked("read", r)
		}
	}()
	return s.db.View(fn)
}

func (s *Store) panicked(what string, r any) error {
	s.m.damaged.Inc()
	s.log.Error("Buffer file damaged while in use; it will be set aside at next start",
		"op", what, "panic", fmt.Sprint(r))
	return fmt.Errorf("%w: panic in %s: %v", ErrDamaged, what, r)
}

func (s *Store) updateFileGauge() {
	if fi, err := os.Stat(s.path); err == nil {
		s.m.fileBytes.Set(float64(fi.Size()))
	}
}

func (s *Store) fileSize() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func validQueue(q string) error {
	if q == "" || len(q) > MaxQueueName {
		return fmt.Errorf("%w: %q", ErrBadQueue, q)
	}
	return nil
}
