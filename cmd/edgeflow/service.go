package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kardianos/service"

	"edgeflow/agent"
	"edgeflow/config"
)

const (
	serviceName = "edgeflow"
	// stableBinary is where install copies the running binary, so that the
	// init system never points at /tmp or a home directory.
	stableBinary = "/usr/bin/edgeflow"
	// restartDelay is how long every supervisor waits before restarting a
	// failed agent (systemd RestartSec, procd respawn timeout, the sysv loop,
	// OpenRC respawn_delay). Not kardianos' 120 s.
	restartDelay = "5"
)

// The init systems edgeflow knows, by the name --init takes, with the name
// kardianos/service gives each.
var initSystems = map[string]string{
	"systemd": "linux-systemd",
	"sysv":    "unix-systemv",
	"procd":   "linux-procd",
	"openrc":  "linux-openrc",
}

const serviceUsage = `usage: edgeflow service COMMAND [--init systemd|sysv|procd|openrc] [--config FILE]

Commands:
  install     copy this binary to /usr/bin/edgeflow, write the default
              configuration if FILE does not exist, register the service
  uninstall   stop and unregister the service (binary, configuration and
              buffer are kept)
  start, stop, restart
  status      prints running, stopped or not installed (exit 0, 3, 4)
  platform    prints the init system detected here and the one used

--init overrides the detected init system (wrong on some Yocto gateways);
after install it is read back from the installed init script.
--config defaults to ` + defaultConfigPath + `.
`

func cmdService(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, serviceUsage)
		return 2
	}
	action := args[0]
	fs := flag.NewFlagSet("service "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	initName := fs.String("init", "", "init system: systemd, sysv, procd or openrc (default: detected)")
	cfgPath := fs.String("config", defaultConfigPath, "configuration file the service runs with")
	bin := fs.String("bin", stableBinary, "where install puts the binary")
	logTo := fs.String("log", "", "run only: stderr or syslog (default: syslog unless interactive)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "edgeflow service %s: unexpected argument %q\n", action, fs.Arg(0))
		return 2
	}
	switch action {
	case "run":
		return serviceRun(*cfgPath, *logTo, stderr)
	case "platform":
		return servicePlatform(*initName, stdout, stderr)
	case "install", "uninstall", "start", "stop", "restart", "status":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, serviceUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "edgeflow service: unknown command %q\n\n%s", action, serviceUsage)
		return 2
	}

	init, err := chooseInit(*initName)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow service: %v\n", err)
		return 2
	}
	abs, err := filepath.Abs(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow service: %v\n", err)
		return 1
	}
	sc := &serviceCtl{init: init, config: abs, bin: *bin, stdout: stdout, stderr: stderr}
	switch action {
	case "install":
		return sc.install()
	case "uninstall":
		return sc.uninstall()
	case "status":
		return sc.status()
	default:
		return sc.control(action)
	}
}

// chooseInit returns the init system to use: the --init flag; else systemd
// when kardianos detects it; else what the installed /etc/init.d/edgeflow
// was written for; else kardianos' detection, with linux-rcs and upstart
// mapped to sysv (kardianos' rcS backend needs /etc/rc.d, which Yocto's
// sysvinit does not have).
func chooseInit(flagValue string) (string, error) {
	if flagValue != "" {
		if _, ok := initSystems[flagValue]; !ok {
			return "", fmt.Errorf("--init %q: want systemd, sysv, procd or openrc", flagValue)
		}
		return flagValue, nil
	}
	detected := service.Platform()
	if detected == "linux-systemd" {
		return "systemd", nil
	}
	if kind := initScriptKind("/etc/init.d/" + serviceName); kind != "" {
		return kind, nil
	}
	for name, platform := range initSystems {
		if platform == detected {
			return name, nil
		}
	}
	return "sysv", nil
}

// initScriptKind tells which init system an installed init script was
// written for, from its first line; "" when there is none.
func initScriptKind(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	first, _, _ := strings.Cut(string(head[:n]), "\n")
	switch {
	case strings.Contains(first, "rc.common"):
		return "procd"
	case strings.Contains(first, "openrc-run"):
		return "openrc"
	default:
		return "sysv"
	}
}

// useInit makes kardianos/service manage the service through the named init
// system even when it does not detect that system here.
func useInit(name string) error {
	want := initSystems[name]
	for _, sys := range service.AvailableSystems() {
		if sys.String() == want {
			service.ChooseSystem(forcedSystem{sys})
			return nil
		}
	}
	return fmt.Errorf("kardianos/service has no %s backend on this platform", want)
}

// forcedSystem is an init system chosen by the user: always "detected".
type forcedSystem struct{ service.System }

func (forcedSystem) Detect() bool { return true }

func servicePlatform(initName string, stdout, stderr io.Writer) int {
	detected := service.Platform()
	init, err := chooseInit(initName)
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow service: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "detected:    %s\n", detected)
	fmt.Fprintf(stdout, "init system: %s\n", init)
	file := initFile(init)
	state := "not installed"
	if installedFile(init) != "" {
		state = "installed"
		file = installedFile(init)
	}
	fmt.Fprintf(stdout, "init file:   %s (%s)\n", file, state)
	fmt.Fprintf(stdout, "interactive: %v\n", service.Interactive())
	return 0
}

// initFile is where install writes the service definition.
func initFile(init string) string {
	if init == "systemd" {
		return "/etc/systemd/system/" + serviceName + ".service"
	}
	return "/etc/init.d/" + serviceName
}

// installedFile is the service definition present on this system for init,
// installed by "service install" or by a package; "" when there is none.
func installedFile(init string) string {
	candidates := []string{initFile(init)}
	if init == "systemd" {
		candidates = append(candidates,
			"/lib/systemd/system/"+serviceName+".service",
			"/usr/lib/systemd/system/"+serviceName+".service")
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// ownedByPackage names the package database (dpkg or opkg) that lists file
// as edgeflow's, if edgeflow was installed from a .deb or an .ipk that ships it.
func ownedByPackage(file string) string {
	for _, list := range []string{
		"/var/lib/dpkg/info/" + serviceName + ".list",
		"/usr/lib/opkg/info/" + serviceName + ".list",
		"/var/lib/opkg/info/" + serviceName + ".list",
	} {
		b, err := os.ReadFile(list)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.TrimPrefix(strings.TrimSpace(line), ".") == file {
				return list
			}
		}
	}
	return ""
}

// serviceCtl carries out one service command.
type serviceCtl struct {
	init   string
	config string // absolute
	bin    string
	stdout io.Writer
	stderr io.Writer
}

func (sc *serviceCtl) errorf(format string, args ...any) int {
	fmt.Fprintf(sc.stderr, "edgeflow service: "+format+"\n", args...)
	return 1
}

// newService builds the kardianos service for sc.init, with edgeflow's own
// service files: the generated ones restart after 120 s (systemd) or never
// (sysv), and log to unrotated files under /var/log.
func (sc *serviceCtl) newService() (service.Service, error) {
	if err := useInit(sc.init); err != nil {
		return nil, err
	}
	return service.New(&program{}, serviceConfig(sc.init, sc.bin, sc.config))
}

// serviceConfig is the kardianos configuration for init: the init system
// runs "BIN service run --config CONFIG --log MODE".
func serviceConfig(init, bin, cfgPath string) *service.Config {
	logMode := "syslog"
	if init == "systemd" || init == "procd" {
		logMode = "stderr" // journald, logd
	}
	opts := service.KeyValue{
		"ReloadSignal": "HUP",
		"Restart":      "on-failure",
	}
	switch init {
	case "systemd":
		opts["SystemdScript"] = systemdUnit
	case "sysv":
		opts["SysvScript"] = sysvScript
	case "procd":
		opts["SysvScript"] = strings.ReplaceAll(procdScript, "@CONFIG@", cfgPath) // procd reuses the SysvScript key
	case "openrc":
		opts["OpenRCScript"] = openrcScript
	}
	return &service.Config{
		Name:        serviceName,
		DisplayName: serviceName,
		Description: "edgeflow LoRaWAN gateway agent",
		Executable:  bin,
		Arguments:   []string{"service", "run", "--config", cfgPath, "--log", logMode},
		Option:      opts,
	}
}

// safePath reports whether p can go into a shell script or unit unquoted.
func safePath(p string) bool {
	if p == "" || !strings.HasPrefix(p, "/") {
		return false
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+@:,", r)
		if !ok {
			return false
		}
	}
	return true
}

func (sc *serviceCtl) install() int {
	if f := installedFile(sc.init); f != "" {
		if p := ownedByPackage(f); p != "" {
			return sc.errorf("already installed by the edgeflow package (%s); use start, stop and status", f)
		}
		return sc.errorf("already installed (%s); run \"edgeflow service uninstall\" first", f)
	}
	if !safePath(sc.config) || !safePath(sc.bin) {
		return sc.errorf("paths must be absolute and use only letters, digits and /._-+@:, (config %q, binary %q)", sc.config, sc.bin)
	}
	if sc.init != "systemd" {
		if _, err := os.Stat("/etc/init.d"); err != nil {
			return sc.errorf("no /etc/init.d on this system; is --init %s right? (%v)", sc.init, err)
		}
	}

	// The configuration: write the default one when there is none, and
	// never register a service that would refuse to start.
	if _, err := os.Stat(sc.config); errors.Is(err, os.ErrNotExist) {
		if err := writeDefaultConfig(sc.config); err != nil {
			return sc.errorf("writing the default configuration: %v", err)
		}
		fmt.Fprintf(sc.stdout, "wrote the default configuration to %s; edit it, then \"edgeflow service restart\"\n", sc.config)
	}
	cfg, _ := loadConfig(sc.config, sc.stderr)
	if cfg == nil {
		return sc.errorf("not installed: fix %s first (edgeflow config validate --config %s)", sc.config, sc.config)
	}
	if dir := filepath.Dir(cfg.Buffer.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return sc.errorf("data directory: %v", err)
		}
	}

	copied, err := installBinary(sc.bin)
	if err != nil {
		return sc.errorf("installing the binary at %s: %v", sc.bin, err)
	}
	if copied {
		fmt.Fprintf(sc.stdout, "copied this binary to %s\n", sc.bin)
	}

	s, err := sc.newService()
	if err != nil {
		return sc.errorf("%v", err)
	}
	if err := service.Control(s, "install"); err != nil {
		return sc.errorf("%v", err)
	}
	if sc.init == "sysv" {
		// kardianos ignores errors creating the rc links; say when there are none.
		if _, err := os.Lstat("/etc/rc3.d/S50" + serviceName); err != nil {
			fmt.Fprintf(sc.stderr, "warning: no /etc/rc3.d/S50%s link: the service will not start at boot (%v)\n", serviceName, err)
		}
	}
	fmt.Fprintf(sc.stdout, "installed %s (%s, %s) running %s with %s\nstart it with: edgeflow service start\n",
		serviceName, sc.init, initFile(sc.init), sc.bin, sc.config)
	return 0
}

// writeDefaultConfig writes "edgeflow config init" to path, readable by root
// only: it will hold device keys.
func writeDefaultConfig(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, config.InitText()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// installBinary copies the running executable to dst, atomically, unless
// it is already that file. It reports whether it copied.
func installBinary(dst string) (bool, error) {
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	if a, err := os.Stat(self); err == nil {
		if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
			return false, nil
		}
	}
	src, err := os.Open(self)
	if err != nil {
		return false, err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".new-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), dst)
}

func (sc *serviceCtl) uninstall() int {
	file := installedFile(sc.init)
	if file == "" {
		fmt.Fprintf(sc.stdout, "%s is not installed (%s)\n", serviceName, sc.init)
		return 0
	}
	if p := ownedByPackage(file); p != "" {
		return sc.errorf("%s belongs to the edgeflow package (%s); remove the package instead", file, p)
	}
	s, err := sc.newService()
	if err != nil {
		return sc.errorf("%v", err)
	}
	if sc.state() == service.StatusRunning {
		if code := sc.control("stop"); code != 0 {
			return code
		}
	}
	if err := service.Control(s, "uninstall"); err != nil {
		return sc.errorf("%v", err)
	}
	if sc.init == "sysv" {
		// kardianos removes only /etc/init.d/edgeflow; remove the rc links too.
		for _, l := range []string{"0K02", "1K02", "2S50", "3S50", "4S50", "5S50", "6K02"} {
			link := "/etc/rc" + l[:1] + ".d/" + l[1:] + serviceName
			if dst, err := os.Readlink(link); err == nil && dst == "/etc/init.d/"+serviceName {
				os.Remove(link)
			}
		}
	}
	fmt.Fprintf(sc.stdout, "uninstalled %s (%s); the binary, the configuration and the buffer are kept\n", serviceName, sc.init)
	return 0
}

// control starts, stops or restarts the service, then reports its state.
func (sc *serviceCtl) control(action string) int {
	if installedFile(sc.init) == "" {
		fmt.Fprintf(sc.stderr, "edgeflow service: %s is not installed (%s); run \"edgeflow service install\" first\n", serviceName, sc.init)
		return 4
	}
	if sc.init == "sysv" {
		if _, err := exec.LookPath("service"); err != nil {
			// kardianos runs "service edgeflow ACTION"; Yocto and BusyBox
			// systems have no "service" command: run the script itself.
			cmd := exec.Command("/etc/init.d/"+serviceName, action)
			cmd.Stdout, cmd.Stderr = sc.stdout, sc.stderr
			if err := cmd.Run(); err != nil {
				return sc.errorf("/etc/init.d/%s %s: %v", serviceName, action, err)
			}
			return sc.reportAfter(action)
		}
	}
	s, err := sc.newService()
	if err != nil {
		return sc.errorf("%v", err)
	}
	if err := service.Control(s, action); err != nil {
		return sc.errorf("%v", err)
	}
	return sc.reportAfter(action)
}

// reportAfter waits briefly for the state an action should lead to and
// prints it: a start whose agent exits at once (an invalid configuration, a
// port in use) is reported here rather than discovered later.
func (sc *serviceCtl) reportAfter(action string) int {
	want := service.StatusRunning
	if action == "stop" {
		want = service.StatusStopped
	}
	var st service.Status
	for i := 0; i < 20; i++ {
		st = sc.state()
		if st == want {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Fprintf(sc.stdout, "%s: %s\n", serviceName, statusWord(st))
	if st != want {
		fmt.Fprintf(sc.stderr, "edgeflow service: %s did not leave the service %s; see the system log (logread, journalctl -u %s, /var/log/messages)\n",
			action, statusWord(want), serviceName)
		return 1
	}
	return 0
}

func statusWord(st service.Status) string {
	switch st {
	case service.StatusRunning:
		return "running"
	case service.StatusStopped:
		return "stopped"
	default:
		return "unknown"
	}
}

// state is the service's state, StatusUnknown when it cannot be told.
func (sc *serviceCtl) state() service.Status {
	if sc.init == "sysv" {
		st, _ := sc.sysvStatus()
		return st
	}
	s, err := sc.newService()
	if err != nil {
		return service.StatusUnknown
	}
	st, err := s.Status()
	if err != nil {
		return service.StatusUnknown
	}
	return st
}

// sysvStatus asks the init script itself (exit 0 running, 3 stopped, 1
// restarting after a failure): kardianos parses the output of "service
// edgeflow status", which fails when the script exits non-zero, as LSB
// requires for a stopped service, and where there is no "service" command.
func (sc *serviceCtl) sysvStatus() (service.Status, string) {
	out, err := exec.Command("/etc/init.d/"+serviceName, "status").Output()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	var ee *exec.ExitError
	switch {
	case err == nil && strings.HasPrefix(line, "Running"):
		return service.StatusRunning, ""
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		return service.StatusStopped, ""
	default:
		if line == "" && err != nil {
			line = err.Error()
		}
		return service.StatusUnknown, strings.ToLower(line)
	}
}

func (sc *serviceCtl) status() int {
	if installedFile(sc.init) == "" {
		fmt.Fprintln(sc.stdout, "not installed")
		return 4
	}
	st, detail := sc.state(), ""
	if sc.init == "sysv" {
		st, detail = sc.sysvStatus()
	}
	switch st {
	case service.StatusRunning:
		fmt.Fprintln(sc.stdout, "running")
		return 0
	case service.StatusStopped:
		fmt.Fprintln(sc.stdout, "stopped")
		return 3
	default:
		if detail == "" {
			detail = "unknown"
		}
		fmt.Fprintln(sc.stdout, detail)
		return 1
	}
}

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

// The service files, in kardianos/service v1.3.0's template syntax ({{Key}},
// {{range Key}}…{{end}}; no {{.Key}}). The packages in scripts/packaging
// carry the same files rendered for /usr/bin/edgeflow and
// /etc/edgeflow/edgeflow.yaml; service_test.go keeps them in step.

// systemdUnit restarts a failed agent after 5 s and never gives up
// (kardianos' own unit waits 120 s); the agent logs to journald.
const systemdUnit = `[Unit]
Description={{Description}}
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={{Path}}{{range Arguments}} {{.}}{{end}}
ExecReload=/bin/kill -{{ReloadSignal}} $MAINPID
Restart={{Restart}}
RestartSec=` + restartDelay + `
TimeoutStopSec=30
EnvironmentFile=-/etc/default/{{Name}}
SyslogIdentifier={{Name}}

[Install]
WantedBy=multi-user.target
`

// procdScript is an OpenWrt procd init script: respawned 5 s after a
// failure for ever, stdout and stderr to logd, "reload" sends SIGHUP, and
// procd restarts it when the configuration file changes. @CONFIG@ is
// replaced before kardianos renders it.
const procdScript = `#!/bin/sh /etc/rc.common
# {{Name}}: LoRaWAN gateway agent, supervised by procd.
# Logs: logread -e {{Name}}. Reload the configuration: /etc/init.d/{{Name}} reload
USE_PROCD=1
START=99
STOP=10

start_service() {
	procd_open_instance
	procd_set_param command {{Path}}{{range Arguments}} {{.}}{{end}}
	procd_set_param respawn 3600 ` + restartDelay + ` -1
	procd_set_param file @CONFIG@
	procd_set_param stdout 1
	procd_set_param stderr 1
	procd_close_instance
}

reload_service() {
	procd_send_signal {{Name}} '*' HUP
}
`

// openrcScript runs the agent under supervise-daemon, restarted 5 s after
// a failure; the agent logs to syslog.
const openrcScript = `#!/sbin/openrc-run
# edgeflow: LoRaWAN gateway agent, supervised by supervise-daemon.
name="edgeflow"
description="{{Description}}"
supervisor=supervise-daemon
command={{Path}}
command_args="{{range Arguments}}{{.}} {{end}}"
respawn_delay=` + restartDelay + `
respawn_max=0
extra_started_commands="reload"

depend() {
	need net
	use logger dns
	after firewall
}

reload() {
	ebegin "Reloading ${RC_SVCNAME}"
	supervise-daemon "${RC_SVCNAME}" --signal HUP
	eend $?
}
`

// sysvScript is a System V init script for sysvinit and BusyBox init. It
// has no supervisor to rely on, so it runs its own: a shell loop that
// restarts the agent 5 s after it fails, forwards SIGHUP (reload) and
// SIGTERM (stop). The agent logs to syslog; nothing goes to /var/log files.
// Only POSIX sh and BusyBox tools (no ps, seq or start-stop-daemon).
const sysvScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          edgeflow
# Required-Start:    $network $remote_fs $syslog
# Required-Stop:     $network $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {{Description}}
# Description:       {{Description}}, restarted 5 s after a failure
### END INIT INFO
# Written by "edgeflow service install". Logs go to syslog.

name=edgeflow
pid_file=/var/run/$name.pid             # the supervisor loop
agent_pid_file=/var/run/$name.agent.pid # the agent it runs
restart_delay=` + restartDelay + `

[ -r /etc/default/$name ] && . /etc/default/$name

run_agent() {
	exec {{Path}}{{range Arguments}} {{.}}{{end}}
}

say() {
	command -v logger >/dev/null 2>&1 && logger -t "$name" -p daemon.warning "$*"
	return 0
}

# alive PID: PID is a live process of this service.
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
	case "$(tr '\000' ' ' < "/proc/$1/cmdline" 2>/dev/null)" in
	*"$name"*) return 0 ;;
	esac
	return 1
}

read_pid() {
	[ -f "$1" ] && cat "$1" 2>/dev/null
}

is_running() {
	alive "$(read_pid "$pid_file")"
}

# pause: a fifth of a second where sleep allows it.
pause() {
	sleep 0.2 2>/dev/null || sleep 1
}

supervise() {
	echo $$ > "$pid_file"
	stopping=
	child=
	trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
	trap '[ -n "$child" ] && kill -HUP "$child" 2>/dev/null' HUP
	while :; do
		run_agent </dev/null &
		child=$!
		echo "$child" > "$agent_pid_file"
		status=0
		while kill -0 "$child" 2>/dev/null; do
			wait "$child"
			status=$?
		done
		child=
		rm -f "$agent_pid_file"
		[ -n "$stopping" ] && break
		if [ "$status" -eq 0 ]; then
			say "the agent exited normally; not restarting it"
			break
		fi
		say "the agent exited with status $status; restarting it in $restart_delay s"
		sleep "$restart_delay" &
		wait $!
		[ -n "$stopping" ] && break
	done
	rm -f "$pid_file"
}

do_start() {
	if is_running; then
		echo "Already running"
		return 0
	fi
	echo "Starting $name"
	rm -f "$agent_pid_file"
	if command -v setsid >/dev/null 2>&1; then
		setsid "$0" supervise </dev/null >/dev/null 2>&1 &
	else
		"$0" supervise </dev/null >/dev/null 2>&1 &
	fi
	i=0
	while [ $i -lt 25 ] && ! alive "$(read_pid "$agent_pid_file")"; do
		pause
		i=$((i + 1))
	done
	sleep 1
	if alive "$(read_pid "$agent_pid_file")"; then
		echo "Started"
		return 0
	fi
	echo "$name did not stay up; it is retried every $restart_delay s; see the system log"
	return 1
}

do_stop() {
	pid=$(read_pid "$pid_file")
	apid=$(read_pid "$agent_pid_file")
	if ! alive "$pid"; then
		alive "$apid" && kill -TERM "$apid" 2>/dev/null
		rm -f "$pid_file" "$agent_pid_file"
		echo "Not running"
		return 0
	fi
	printf 'Stopping %s' "$name"
	kill -TERM "$pid"
	i=0
	while [ $i -lt 150 ] && alive "$pid"; do
		pause
		i=$((i + 1))
		[ $((i % 5)) -eq 0 ] && printf .
	done
	if alive "$pid"; then
		echo " still running; killing it"
		kill -KILL "$pid" 2>/dev/null
		alive "$apid" && kill -KILL "$apid" 2>/dev/null
	else
		echo " stopped"
	fi
	rm -f "$pid_file" "$agent_pid_file"
	return 0
}

case "$1" in
start)
	do_start || exit 1
	;;
stop)
	do_stop
	;;
restart)
	do_stop
	do_start || exit 1
	;;
reload|force-reload)
	if ! is_running; then
		echo "Not running"
		exit 7
	fi
	kill -HUP "$(read_pid "$pid_file")"
	echo "Reloading $name"
	;;
status)
	if ! is_running; then
		echo "Stopped"
		exit 3
	fi
	if alive "$(read_pid "$agent_pid_file")"; then
		echo "Running"
		exit 0
	fi
	echo "Restarting: the agent failed and is retried every $restart_delay s"
	exit 1
	;;
supervise)
	supervise
	;;
*)
	echo "Usage: $0 {start|stop|restart|reload|status}"
	exit 1
	;;
esac
exit 0
`
