package buffer

import "golang.org/x/sys/unix"

// VolatileFS names the filesystem of dir when it keeps files in RAM only
// ("tmpfs" or "ramfs"): a buffer there, with its backlog, frame counters
// and OTAA sessions, is gone after every reboot (/var on OpenWrt, /tmp or
// /run on most systems). "" when dir is on storage or cannot be told.
func VolatileFS(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return ""
	}
	// Type is int32 or int64 depending on the architecture; the magic
	// numbers are 32 bits.
	switch uint32(st.Type) {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.RAMFS_MAGIC:
		return "ramfs"
	}
	return ""
}
