package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"edgeflow/agent"
	"edgeflow/config"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default "+defaultConfigPath+" when it exists)")
	allowRoot := fs.Bool("allow-root", false, "run as root even where edgeflow's files belong to its service user")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, code := loadConfig(*path, stderr)
	if cfg == nil {
		return code
	}
	rootWarning, err := rootCheck(os.Geteuid(), *allowRoot, filepath.Dir(cfg.Buffer.Path), cfg.Path)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		return 1
	}
	log := newLogger(stderr, cfg.Log.Level)
	if rootWarning != "" {
		log.Warn(rootWarning)
	}
	setMemoryLimit()
	setProcs()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	roots := &fallbackRoots{log: log}
	a, err := agent.New(cfg, agent.Options{Logger: log, Version: version, CheckBuffer: checkBufferInChild, Logs: "stderr", TLSRoots: roots.ensure})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if cfg.Path != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go watchConfig(ctx, cfg.Path, cfg.DevicesFile, configStamp(cfg.Path, cfg.DevicesFile), a, log, hup)
	}
	if err := a.Run(ctx); err != nil {
		log.Error("agent stopped with an error", "err", err)
		return 1
	}
	return 0
}

// loadConfig reads the configuration named on the command line, the default
// file when it exists, or the built-in defaults. It prints every problem and
// returns nil with the exit status when the file is not valid.
func loadConfig(path string, stderr io.Writer) (*config.Config, int) {
	return loadConfigOr(path, stderr, "nothing was started")
}

// loadConfigOr is loadConfig with the last line's ending: what the refusal
// means for the command that read the file.
func loadConfigOr(path string, stderr io.Writer, ending string) (*config.Config, int) {
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		}
	}
	if path == "" {
		return config.Default(), 0
	}
	cfg, warnings, err := config.Load(path)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w.Format(path))
	}
	if err != nil {
		var perr *config.Error
		if errors.As(err, &perr) {
			fmt.Fprintln(stderr, perr.Error())
			fmt.Fprintf(stderr, "edgeflow: %s is not valid (%s); %s\n", path, plural(len(perr.Problems), "problem"), ending)
		} else {
			fmt.Fprintf(stderr, "edgeflow: %v\n", err)
		}
		return nil, 1
	}
	return cfg, 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// agentMemoryLimit is the Go runtime's soft memory limit for the agent: a
// gateway has 128–512 MB shared with its packet forwarder and network
// server, and the garbage collector otherwise lets the heap double after a
// burst. GOMEMLIMIT in the environment overrides it.
const agentMemoryLimit = 20 << 20

func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(agentMemoryLimit)
	}
}

// agentProcs is how many OS threads run the agent's Go code at once. The
// agent waits on sockets and flash most of the time and needs about a
// tenth of one core at 8,500 uplinks/s; a second P only lets the scheduler
// spin idle threads awake (10 % more CPU per uplink on two cores,
// edgeflow-load --gomaxprocs 2; a third more before the hot path's socket
// calls stopped waking the runtime's monitor) and takes a core the packet
// forwarder and the network server share. GOMAXPROCS in the environment
// overrides it.
const agentProcs = 1

func setProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(agentProcs)
	}
}

// plural says "1 problem", "3 problems".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
