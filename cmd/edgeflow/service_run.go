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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kardianos/service"

	"edgeflow/agent"
)

// serviceRun is what the init system runs: the agent under kardianos'
// Run, SIGHUP reloading, SIGTERM and SIGINT stopping. Logs go to syslog
// (sysv, OpenRC) or stderr (journald under systemd, logd under procd).
func serviceRun(cfgPath, logTo string, stderr io.Writer) int {
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
	switch logTo {
	case "stderr":
		logw = stderr
	case "syslog":
		logw = newSyslogWriter(serviceName, stderr)
	default:
		fmt.Fprintf(stderr, "edgeflow service run: --log %q: want stderr or syslog\n", logTo)
		return 2
	}

	p := &program{path: cfgPath, logw: logw, done: make(chan struct{})}
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
	path string
	logw io.Writer

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
	p.log = newLogger(p.logw, cfg.Log.Level)
	setMemoryLimit()
	a, err := agent.New(cfg, agent.Options{Logger: p.log, Version: version, CheckBuffer: checkBufferInChild})
	if err != nil {
		return err
	}
	p.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
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
// running agent (agent.Reload: connections and devices change in place,
// what needs a restart is reported). An invalid file is reported and the
// running configuration kept.
func (p *program) reload() {
	p.log.Info("reload requested", "signal", "SIGHUP", "config", p.path)
	cfg, _ := loadConfig(p.path, p.logw)
	if cfg == nil {
		p.log.Error("reload: the configuration is not valid; keeping the running one", "config", p.path)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.agent.Reload(ctx, cfg); err != nil {
		p.log.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	p.log.Info("configuration reloaded", "config", p.path)
}

// syslogWriter sends each log line (one slog text record per Write) to
// syslog with the severity of its level= field. While syslog cannot be
// reached (early boot, no syslog daemon) lines go to fallback, and it
// tries to connect again at most every 10 s.
type syslogWriter struct {
	tag      string
	fallback io.Writer

	mu       sync.Mutex
	w        *syslog.Writer
	lastDial time.Time
}

func newSyslogWriter(tag string, fallback io.Writer) *syslogWriter {
	return &syslogWriter{tag: tag, fallback: fallback}
}

func (s *syslogWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil && (s.lastDial.IsZero() || time.Since(s.lastDial) > 10*time.Second) {
		s.lastDial = time.Now()
		s.w, _ = syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, s.tag)
	}
	if s.w == nil {
		return s.fallback.Write(p)
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
		return s.fallback.Write(p)
	}
	return len(p), nil
}
