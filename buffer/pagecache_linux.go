package buffer

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropPageCache evicts the file's cached pages before bbolt maps it. Pages
// read ahead in big chunks (bbolt's 16 KiB initial write, the checker's
// scan, a compaction) sit in the page cache as large folios, and a 4 KiB
// page written into one dirties, and is accounted as, the whole folio:
// with the meta pages in the 16 KiB folio of the initial write every commit
// counted 12 KiB more than it wrote. Evicted, the pages come back one by one
// (bbolt maps the file MADV_RANDOM and writes 4 KiB pages). Only clean,
// unmapped pages go, so it is safe while nobody has the file open; a
// failure costs nothing but the accounting.
func dropPageCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
