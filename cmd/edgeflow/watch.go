package main

import (
	"errors"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// watchFiles tells, through the channel, when one of the files may have
// changed. It watches their directories (an editor replaces the file,
// which a watch of the file itself would lose) through fsnotify (inotify
// on Linux, kqueue on the BSDs, ReadDirectoryChangesW on Windows) and
// filters the events by name. Its goroutine waits on the kernel, so that
// nothing wakes the process while no file changes: a poll of the files
// every 2 s woke a gateway's agent (and the runtime's monitor thread) 0.5
// times a second, which at 10 uplinks/s under qemu-arm cost about as much
// as 5 % of an uplink's CPU. ok is false where no watch can be set (the
// caller polls); stop ends the watch.
func watchFiles(paths ...string) (changed <-chan struct{}, stop func(), ok bool) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, nil, false
	}
	names := watched{}
	dirs := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			w.Close()
			return nil, nil, false
		}
		names[filepath.Base(abs)] = true
		dir := filepath.Dir(abs)
		if dirs[dir] {
			continue
		}
		if err := w.Add(dir); err != nil {
			w.Close()
			return nil, nil, false
		}
		dirs[dir] = true
	}
	ch := make(chan struct{}, 1)
	tell := func() {
		select {
		case ch <- struct{}{}:
		default: // one pending is enough
		}
	}
	go func() {
		for {
			select {
			case ev, open := <-w.Events:
				if !open {
					return // closed by stop
				}
				if names.has(ev) {
					tell()
				}
			case err, open := <-w.Errors:
				if !open {
					return
				}
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					tell() // events were lost: look anyway
				}
			}
		}
	}()
	return ch, func() { w.Close() }, true
}

// watched is the base names of the watched files: a directory's events
// for other files (an editor's swap file, the agent's own buffer) are not
// changes.
type watched map[string]bool

func (w watched) has(ev fsnotify.Event) bool { return w[filepath.Base(ev.Name)] }
