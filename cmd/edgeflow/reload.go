package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"edgeflow/agent"
	"edgeflow/config"
)

// watchConfig reloads the configuration when hup delivers (SIGHUP; nil
// when the caller handles the signal itself) and when the file, or the
// devices file it names, changes: technicians edit them in place, under
// `run` and under the service alike.
// The caller takes last (configStamp) before the agent starts, so that a
// change saved right after the start line is seen: the goroutine itself
// may first run after that.
func watchConfig(ctx context.Context, path, devicesFile, last string, a *agent.Agent, log *slog.Logger, hup <-chan os.Signal) {
	changed, stopWatch, watching := watchFiles(path, devicesFile)
	defer func() {
		if watching {
			stopWatch()
		}
	}()
	every := pollEvery
	if watching {
		every = safetyPoll
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	// One look once the watch is in place: a save between the caller's
	// stamp (last) and the watch gave no event. (Missed, it waited for
	// the minute's look: TestServiceWatchesFile caught it.)
	settle := time.NewTimer(0)
	stamp := func() string { return configStamp(path, devicesFile) }
	why := "" // a reload asked and not applied yet
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-changed:
			settle.Reset(settleDelay) // the save may not be over
			continue
		case <-settle.C:
		case <-tick.C:
		}
		if why == "" {
			if stamp() == last {
				continue
			}
			why = "file changed"
		}
		if !a.Ready() {
			settle.Reset(time.Second) // starting or stopping: applied once started
			continue
		}
		last = stamp()
		if cfg := reloadFile(ctx, a, path, why, log); cfg != nil && cfg.DevicesFile != devicesFile {
			devicesFile = cfg.DevicesFile // the file now names another
			last = stamp()
			if watching {
				stopWatch()
				changed, stopWatch, watching = watchFiles(path, devicesFile)
				if !watching {
					tick.Reset(pollEvery)
				}
				settle.Reset(0) // as at the start: a save before the new watch
			}
		}
		why = ""
	}
}

// How watchConfig notices a saved file: its directory's inotify events,
// once settleDelay has passed without another (an editor's save may take
// a rename and a write), and a look every safetyPoll for what no event
// tells (a network file system). Without inotify it looks every pollEvery.
const (
	settleDelay = 200 * time.Millisecond
	safetyPoll  = time.Minute
	pollEvery   = 2 * time.Second
)

// reloadFile applies the file to the running agent and logs the outcome,
// every problem on a line of its own, so that a reload that failed is in
// the log (and in /status) and not only on a terminal nobody watches.
func reloadFile(ctx context.Context, a *agent.Agent, path, why string, log *slog.Logger) *config.Config {
	log.Info("reload requested", "trigger", why, "config", path)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cfg, warns, err := a.ReloadFile(rctx, path, why)
	for _, w := range warns {
		log.Warn("configuration warning", "warning", w.Format(path))
	}
	var perr *config.Error
	switch {
	case errors.As(err, &perr):
		file := perr.File // the devices file, for a problem in it
		if file == "" {
			file = path
		}
		for _, p := range perr.Problems {
			log.Error("configuration problem", "problem", p.Format(file))
		}
		log.Error("the configuration is not valid; keeping the running one", "config", path,
			"problems", len(perr.Problems), "fix", fmt.Sprintf("edgeflow config validate --config %s", path))
	case err != nil:
		log.Error("reload failed; keeping the running configuration", "config", path, "err", err)
	}
	return cfg
}

// fileStamp identifies a version of a file by size and modification time.
func fileStamp(path string) string {
	if path == "" {
		return "" // no devices file: nothing to stat every 2 s
	}
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
}

// configStamp is what watchConfig compares: both files' stamps.
func configStamp(path, devicesFile string) string {
	return fileStamp(path) + "|" + fileStamp(devicesFile)
}
