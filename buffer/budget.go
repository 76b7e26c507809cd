package buffer

// The budget is enforced on an estimate of the bytes of pages in use, kept
// below dataShare of MaxSize; bbolt's own MaxSize is the backstop. Live
// value bytes are known exactly, but how many pages they take depends on
// record size (a 1000-byte record leaves a quarter of each 4 KiB page
// empty, a 300-byte one almost nothing) and on branch pages, so the ratio
// of pages in use to live bytes is measured after every commit.

import bolt "go.etcd.io/bbolt"

const defaultRatio = 1.15

// calibrate updates the page/live ratio from bbolt's numbers after a
// commit: pages below the high-water mark that are not free are in use.
func (s *Store) calibrate() {
	live := s.live.Load()
	if live < 64<<10 {
		return // too little data for a meaningful ratio
	}
	var highWater int64
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return
	}
	// A read transaction costs no I/O; its Size is the high-water mark.
	if err := s.db.View(func(tx *bolt.Tx) error {
		highWater = tx.Size()
		return nil
	}); err != nil {
		return
	}
	used := highWater - int64(s.db.Stats().FreeAlloc)
	r := float64(used) / float64(live)
	s.ratio = min(max(r, 1.0), 4.0)
}

// pagesFor estimates the page bytes that live value bytes occupy.
func (s *Store) pagesFor(live int64) int64 { return int64(float64(live) * s.ratio) }

// liveFor converts page bytes back to live value bytes.
func (s *Store) liveFor(pages int64) int64 { return int64(float64(pages)/s.ratio) + 1 }
