//go:build linux

package main

import (
	"encoding/binary"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// watchEvents are what may change a file a technician edits: written and
// closed in place, renamed or moved over (an editor's save), removed,
// touched. Not IN_MODIFY: it fires for every write of a save still going.
const watchEvents = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CREATE | unix.IN_DELETE | unix.IN_ATTRIB

// watchFiles tells, through the channel, when one of the files may have
// changed: it watches their directories with inotify (an editor replaces
// the file, which a watch of the file itself would lose) and filters by
// name. The reader goroutine waits on the netpoller, so that nothing wakes
// the process while no file changes; a poll of the files every 2 s woke a
// gateway's agent (and the runtime's monitor thread) 0.5 times a second,
// which at 10 uplinks/s under qemu-arm cost about as much as 5 % of an
// uplink's CPU. ok is false where inotify is not available (the caller
// polls); stop ends the watch.
//
// Not fsnotify: v1.10.1 casts its read buffer to the event struct at
// unaligned offsets, and the agent died of SIGBUS at its start on the
// mips_softfloat build (CI, qemu-mips-static -cpu 24Kc). namesIn reads the
// records' fields from the bytes.
func watchFiles(paths ...string) (changed <-chan struct{}, stop func(), ok bool) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, nil, false
	}
	names := map[string]bool{}
	dirs := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			unix.Close(fd)
			return nil, nil, false
		}
		names[filepath.Base(abs)] = true
		dir := filepath.Dir(abs)
		if dirs[dir] {
			continue
		}
		if _, err := unix.InotifyAddWatch(fd, dir, watchEvents); err != nil {
			unix.Close(fd)
			return nil, nil, false
		}
		dirs[dir] = true
	}
	// Non-blocking, so os.NewFile hands it to the netpoller.
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // closed by stop
			}
			if namesIn(buf[:n], names) {
				select {
				case ch <- struct{}{}:
				default: // one pending is enough
				}
			}
		}
	}()
	return ch, func() { f.Close() }, true
}

// namesIn tells whether an event of the inotify records in b names one of
// names; an overflowed queue (events lost) counts as a change.
func namesIn(b []byte, names map[string]bool) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:8])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if mask&unix.IN_Q_OVERFLOW != 0 {
			return true
		}
		end := unix.SizeofInotifyEvent + n
		if end > len(b) {
			return true // cut short: look anyway
		}
		name := b[unix.SizeofInotifyEvent:end]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1] // NUL padding
		}
		if names[string(name)] {
			return true
		}
		b = b[end:]
	}
	return false
}
