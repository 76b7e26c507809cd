//go:build unix

package config

import "syscall"

// canWrite asks the kernel, which knows about read-only mounts, ACLs and the
// service user, without creating a probe file.
func canWrite(dir string) bool {
	const wOK = 2 // W_OK
	return syscall.Access(dir, wOK) == nil
}

// keepOwner gives the new file the old one's owner, so that a root service
// rewriting a file an operator owns does not take it from them. Best effort:
// an unprivileged service cannot, and need not, change owners.
func keepOwner(f interface{ Chown(int, int) error }, old any) {
	if st, ok := old.(*syscall.Stat_t); ok {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}

// openNonblock keeps an open of a FIFO from waiting for a writer.
const openNonblock = syscall.O_NONBLOCK
