package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kardianos/service"

	"edgeflow/agent"
	"edgeflow/config"
)

// serviceRun is what the init system runs: the agent under kardianos'
// Run, SIGHUP reloading, SIGTERM and SIGINT stopping. Logs go to syslog
// (sysv, OpenRC) or stderr (journald under systemd, logd under procd);
// when syslog cannot be reached, to a size-capped file in the state
// directory. With runAs it first switches to that user (the sysv script
// starts it as root); it refuses to run as root unless allowRoot.
func serviceRun(cfgPath, logTo, runAs string, allowRoot bool, stderr io.Writer) int {
	// Catch the signals before anything else: SIGHUP's default action
	// would otherwise kill an agent reloaded while it starts.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)

	if logTo == "" {
		logTo = "stderr"
		if !service.Interactive() {
			logTo = "syslog"
		}
	}
	var logw io.Writer
	var sw *syslogWriter
	switch logTo {
	case "stderr":
		logw = stderr
	case "syslog":
		sw = newSyslogWriter(serviceName, stderr)
		logw = sw
	default:
		fmt.Fprintf(stderr, "edgeflow service run: --log %q: want stderr or syslog\n", logTo)
		return 2
	}
	if runAs != "" {
		if err := dropPrivileges(runAs); err != nil {
			fmt.Fprintf(logw, "level=ERROR msg=\"cannot start\" err=%q\n", err.Error())
			return 1
		}
	}
	if os.Geteuid() == 0 && !allowRoot {
		fmt.Fprintf(logw, "level=ERROR msg=\"cannot start\" err=%q\n", errServiceRoot.Error())
		return 1
	}
	if sw != nil {
		// Until the configuration names the state directory, the default
		// one takes what syslog cannot (an invalid file is reported there).
		sw.setFallback(filepath.Join(filepath.Dir(config.Default().Buffer.Path), logFileName))
	}

	p := &program{path: cfgPath, logw: logw, syslog: sw, done: make(chan struct{})}
	s, err := service.New(p, &service.Config{
		Name:   serviceName,
		Option: service.KeyValue{"RunWait": func() { p.wait(sigs) }},
	})
	if err != nil {
		fmt.Fprintf(logw, "level=ERROR msg=\"cannot run as a service\" err=%q\n", err.Error())
		return 1
	}
	if err := s.Run(); err != nil {
		fmt.Fprintf(logw, "level=ERROR msg=\"cannot start\" err=%q\n", err.Error())
		return 1
	}
	if p.err != nil {
		return 1
	}
	return 0
}

// program is the agent as a kardianos service.Interface.
type program struct {
	path   string
	logw   io.Writer
	syslog *syslogWriter // nil when logging to stderr

	log    *slog.Logger
	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan struct{} // closed when the agent's Run returns
	err    error         // what Run returned; read after done
}

// Start loads the configuration and starts the agent in the background;
// an agent that fails to start ends wait, and the process exits non-zero so
// that the init system restarts it.
func (p *program) Start(service.Service) error {
	cfg, _ := loadConfig(p.path, p.logw)
	if cfg == nil {
		return fmt.Errorf("%s is not valid", p.path)
	}
	logs := "stderr"
	if os.Getenv("JOURNAL_STREAM") != "" { // systemd connected stderr to the journal
		logs = "journald"
	}
	if p.syslog != nil {
		p.syslog.setFallback(filepath.Join(filepath.Dir(cfg.Buffer.Path), logFileName))
		logs = p.syslog.where()
	}
	p.log = newLogger(p.logw, cfg.Log.Level)
	setMemoryLimit()
	setProcs() // as run does: installed services are where the one-P budgets matter
	roots := &fallbackRoots{log: p.log}
	a, err := agent.New(cfg, agent.Options{Logger: p.log, Version: version, CheckBuffer: checkBufferInChild, Logs: logs, TLSRoots: roots.ensure})
	if err != nil {
		return err
	}
	p.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go watchConfig(ctx, cfg.Path, cfg.DevicesFile, configStamp(cfg.Path, cfg.DevicesFile), a, p.log, nil) // SIGHUP comes through wait
	go func() {
		p.err = a.Run(ctx)
		if p.err != nil {
			p.log.Error("agent stopped with an error", "err", p.err)
		}
		close(p.done)
	}()
	return nil
}

// wait is kardianos' RunWait: it returns when the service is to stop or
// the agent has ended; SIGHUP reloads.
func (p *program) wait(sigs <-chan os.Signal) {
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				p.reload()
				continue
			}
			p.log.Info("stopping", "signal", sig.String())
			return
		case <-p.done:
			return
		}
	}
}

// Stop asks the agent to stop and waits for it: it flushes what it holds in
// memory to the buffer (agent.Run bounds this to 20 s).
func (p *program) Stop(service.Service) error {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	return nil
}

// reload re-reads the configuration file on SIGHUP and hands it to the
// running agent (see reloadFile). An invalid file is reported and the
// running configuration kept.
func (p *program) reload() {
	reloadFile(context.Background(), p.agent, p.path, "SIGHUP", p.log)
}

// syslogWriter sends each log line (one slog text record per Write) to
// syslog with the severity of its level= field. While syslog cannot be
// reached (early boot, no syslog daemon: sysv without /dev/log) lines go
// to the fallback file, or to stderr when that cannot be written, and it
// tries to connect again at most every 10 s.
type syslogWriter struct {
	tag    string
	stderr io.Writer

	mu       sync.Mutex
	w        *syslog.Writer
	lastDial time.Time
	file     *rotatingFile // nil: stderr only
}

func newSyslogWriter(tag string, stderr io.Writer) *syslogWriter {
	return &syslogWriter{tag: tag, stderr: stderr}
}

// setFallback makes path, capped and rotated, take the lines syslog does
// not.
func (s *syslogWriter) setFallback(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		if s.file.path == path {
			return
		}
		s.file.Close()
	}
	s.file = newRotatingFile(path, logFileMax)
}

// where says where lines go now, for the start line.
func (s *syslogWriter) where() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dial() {
		return "syslog"
	}
	if s.file != nil {
		return "file " + s.file.path + " (syslog unreachable; capped at " + strconv.Itoa(logFileMax>>20) + " MiB, one old file kept)"
	}
	return "stderr (syslog unreachable)"
}

// dial connects to syslog unless connected or tried in the last 10 s.
func (s *syslogWriter) dial() bool {
	if s.w == nil && (s.lastDial.IsZero() || time.Since(s.lastDial) > 10*time.Second) {
		s.lastDial = time.Now()
		s.w, _ = syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, s.tag)
	}
	return s.w != nil
}

func (s *syslogWriter) fallback(p []byte) (int, error) {
	if s.file != nil {
		if n, err := s.file.Write(p); err == nil {
			return n, nil
		}
	}
	return s.stderr.Write(p)
}

func (s *syslogWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dial() {
		return s.fallback(p)
	}
	line := string(bytes.TrimRight(p, "\n"))
	if strings.HasPrefix(line, "time=") { // syslog stamps its own time
		if _, rest, ok := strings.Cut(line, " "); ok {
			line = rest
		}
	}
	var err error
	switch {
	case strings.HasPrefix(line, "level=ERROR"):
		err = s.w.Err(line)
	case strings.HasPrefix(line, "level=WARN"):
		err = s.w.Warning(line)
	case strings.HasPrefix(line, "level=DEBUG"):
		err = s.w.Debug(line)
	default:
		err = s.w.Info(line)
	}
	if err != nil {
		s.w.Close()
		s.w = nil
		return s.fallback(p)
	}
	return len(p), nil
}
