package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kardianos/service"

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
              configuration if FILE does not exist, create the ` + serviceUser + `
              system user and give it the configuration and state
              directories, register the service (it runs as ` + serviceUser + `)
  uninstall   stop and unregister the service (binary, configuration,
              buffer and user are kept)
  start, stop, restart
  reload      check the configuration (printing every problem), then have
              the running service re-read it; nothing is sent when invalid
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
	runAs := fs.String("user", "", "run only: switch to this user first (the sysv script starts it as root)")
	allowRoot := fs.Bool("allow-root", false, "run only: run as root")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "edgeflow service %s: unexpected argument %q\n", action, fs.Arg(0))
		return 2
	}
	switch action {
	case "run":
		return serviceRun(*cfgPath, *logTo, *runAs, *allowRoot, stderr)
	case "platform":
		return servicePlatform(*initName, stdout, stderr)
	case "install", "uninstall", "start", "stop", "restart", "reload", "status":
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
	configSet := false
	fs.Visit(func(f *flag.Flag) { configSet = configSet || f.Name == "config" })
	if !configSet {
		// The configuration the installed service runs with, not the default.
		if p := installedConfig(installedFile(init)); p != "" {
			abs = p
		}
	}
	sc := &serviceCtl{init: init, config: abs, stateDir: config.SystemBufferDir, bin: *bin, stdout: stdout, stderr: stderr}
	switch action {
	case "install":
		return sc.install()
	case "uninstall":
		return sc.uninstall()
	case "status":
		return sc.status()
	case "reload":
		return sc.reload()
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
	init       string
	config     string // absolute
	stateDir   string // the buffer's directory, once the configuration is read
	bufferPath string
	bin        string
	stdout     io.Writer
	stderr     io.Writer
}

func (sc *serviceCtl) errorf(format string, args ...any) int {
	fmt.Fprintf(sc.stderr, "edgeflow service: "+format+"\n", args...)
	return 1
}

// newService builds the kardianos service for sc.init, with edgeflow's own
// service files: the generated ones restart after 120 s (systemd) or never
// (sysv), run as root and log to unrotated files under /var/log.
func (sc *serviceCtl) newService() (service.Service, error) {
	if err := useInit(sc.init); err != nil {
		return nil, err
	}
	return service.New(&program{}, serviceConfig(sc.init, sc.bin, sc.config, sc.stateDir))
}

// serviceConfig is the kardianos configuration for init: the init system
// runs "BIN service run --config CONFIG --log MODE" as the edgeflow user;
// stateDir is the buffer's directory.
func serviceConfig(init, bin, cfgPath, stateDir string) *service.Config {
	logMode := "syslog"
	if init == "systemd" || init == "procd" {
		logMode = "stderr" // journald, logd
	}
	args := []string{"service", "run", "--config", cfgPath, "--log", logMode}
	if init == "sysv" {
		// No supervisor that switches users everywhere (BusyBox has no
		// start-stop-daemon --chuid on every gateway): the agent does.
		args = append(args, "--user", serviceUser)
	}
	rwDirs := filepath.Dir(cfgPath)
	if stateDir != rwDirs {
		rwDirs += " " + stateDir
	}
	fill := strings.NewReplacer("@CONFIG@", cfgPath, "@RW_DIRS@", rwDirs, "@STATE_DIR@", stateDir).Replace
	opts := service.KeyValue{
		"ReloadSignal": "HUP",
		"Restart":      "on-failure",
	}
	switch init {
	case "systemd":
		opts["SystemdScript"] = fill(systemdUnit)
	case "sysv":
		opts["SysvScript"] = fill(sysvScript)
	case "procd":
		opts["SysvScript"] = fill(procdScript) // procd reuses the SysvScript key
	case "openrc":
		opts["OpenRCScript"] = fill(openrcScript)
	}
	return &service.Config{
		Name:        serviceName,
		DisplayName: serviceName,
		Description: "edgeflow LoRaWAN gateway agent",
		Executable:  bin,
		Arguments:   args,
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
		if err := writeDefaultConfig(sc.config, sc.init == "procd"); err != nil {
			return sc.errorf("writing the default configuration: %v", err)
		}
		fmt.Fprintf(sc.stdout, "wrote the default configuration to %s; edit it, then \"edgeflow service restart\"\n", sc.config)
	}
	cfg, _ := loadConfigOr(sc.config, sc.stderr, "nothing was installed")
	if cfg == nil {
		return sc.errorf("not installed: fix %s first (edgeflow config validate --config %s)", sc.config, sc.config)
	}
	sc.stateDir, sc.bufferPath = filepath.Dir(cfg.Buffer.Path), cfg.Buffer.Path
	if !safePath(sc.stateDir) {
		return sc.errorf("the buffer's directory %q must be absolute and use only letters, digits and /._-+@:,", sc.stateDir)
	}
	if err := sc.giveToServiceUser(); err != nil {
		return sc.errorf("%v", err)
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
	fmt.Fprintf(sc.stdout, "installed %s (%s, %s) running %s as %s with %s\nstart it with: edgeflow service start\n",
		serviceName, sc.init, initFile(sc.init), sc.bin, serviceUser, sc.config)
	return 0
}

// writeDefaultConfig writes "edgeflow config init" (with openwrt, its
// OpenWrt form: the buffer on flash) to path, readable by its owner and
// group only: it will hold device keys.
func writeDefaultConfig(path string, openwrt bool) error {
	text := config.InitText()
	if openwrt {
		var err error
		if text, err = openwrtConfig(text); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
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
	if st := sc.state(); st == service.StatusRunning || sc.init != "systemd" && st != service.StatusStopped {
		// A crash-looping sysv service is neither running nor stopped: its
		// supervisor must go too.
		if code := sc.control("stop"); code != 0 {
			return code
		}
	}
	for _, pid := range stopLeftovers(pidFiles) {
		fmt.Fprintf(sc.stdout, "stopped the leftover process %d\n", pid)
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

// giveToServiceUser creates the edgeflow user when there is none and gives
// it the state directory (created if needed) with the buffer's files, the
// configuration file and
// the configuration's directory when it is edgeflow's own (the API saves
// the file by writing a new one beside it). A shared directory such as
// /etc is left alone, with a warning.
func (sc *serviceCtl) giveToServiceUser() error {
	uid, gid, err := ensureServiceUser(sc.stateDir, sc.stdout)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(sc.stateDir, 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	chown := []string{sc.stateDir, sc.config}
	// The buffer and its companions (and a log), which an agent run as
	// root may have left.
	if m, err := filepath.Glob(filepath.Join(sc.stateDir, filepath.Base(sc.bufferPath)+"*")); err == nil {
		chown = append(chown, m...)
	}
	if m, err := filepath.Glob(filepath.Join(sc.stateDir, logFileName+"*")); err == nil {
		chown = append(chown, m...)
	}
	cfgDir := filepath.Dir(sc.config)
	if strings.Contains(filepath.Base(cfgDir), serviceName) {
		chown = append(chown, cfgDir)
	} else {
		fmt.Fprintf(sc.stderr, "warning: %s is not edgeflow's own directory: it stays as it is, and the API cannot save configuration changes there\n", cfgDir)
	}
	for _, p := range chown {
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("giving %s to %s: %w", p, serviceUser, err)
		}
	}
	for _, d := range []string{sc.stateDir, cfgDir} {
		if strings.Contains(filepath.Base(d), serviceName) {
			if err := os.Chmod(d, 0o750); err != nil {
				return err
			}
		}
	}
	return os.Chmod(sc.config, 0o640)
}

// pidFiles are where the sysv script keeps its supervisor's and its
// agent's process ids.
var pidFiles = []string{"/var/run/" + serviceName + ".pid", "/var/run/" + serviceName + ".agent.pid"}

// stopLeftovers kills, and waits up to 10 s for, every live edgeflow
// process a pid file names (a supervisor that the init script could not
// stop, its agent), removes the pid files and returns the pids it stopped.
func stopLeftovers(files []string) []int {
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 1 && isEdgeflowProcess(pid) {
			syscall.Kill(pid, syscall.SIGTERM)
			pids = append(pids, pid)
		}
		os.Remove(f)
	}
	for _, pid := range pids {
		for i := 0; i < 40 && isEdgeflowProcess(pid); i++ {
			time.Sleep(250 * time.Millisecond) // a stopping agent flushes its buffer
		}
		if isEdgeflowProcess(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return pids
}

// isEdgeflowProcess tells whether pid is alive and runs edgeflow (its
// command line names it), so that a recycled pid is never killed.
func isEdgeflowProcess(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return false
	}
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// A zombie (state Z) has exited: nothing to stop.
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i+1:]), " Z") {
			return false
		}
	}
	return strings.Contains(string(b), serviceName)
}

// installedConfig is the --config path an installed service file runs
// the agent with; "" when there is none.
func installedConfig(file string) string {
	if file == "" {
		return ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--config" && filepath.IsAbs(f[i+1]) {
				return strings.Trim(f[i+1], `"'`)
			}
		}
	}
	return ""
}

// reload checks the configuration the service runs with, printing every
// problem, and only when it is valid has the init system signal the
// running agent (SIGHUP), which re-reads it.
func (sc *serviceCtl) reload() int {
	if cfg, _ := loadConfigOr(sc.config, sc.stderr, "nothing was reloaded"); cfg == nil {
		fmt.Fprintf(sc.stderr, "edgeflow service: not reloaded: the running service keeps its configuration; fix %s and run \"edgeflow service reload\" again\n", sc.config)
		return 1
	}
	if installedFile(sc.init) == "" {
		fmt.Fprintf(sc.stderr, "edgeflow service: %s is valid, but %s is not installed (%s); run \"edgeflow service install\" first\n", sc.config, serviceName, sc.init)
		return 4
	}
	if sc.state() != service.StatusRunning {
		fmt.Fprintf(sc.stderr, "edgeflow service: %s is valid, but the service is not running; start it with \"edgeflow service start\"\n", sc.config)
		return 3
	}
	var cmd *exec.Cmd
	switch sc.init {
	case "systemd":
		cmd = exec.Command("systemctl", "reload", serviceName+".service")
	case "openrc":
		cmd = exec.Command("rc-service", serviceName, "reload")
	default: // sysv, procd
		cmd = exec.Command("/etc/init.d/"+serviceName, "reload")
	}
	cmd.Stdout, cmd.Stderr = sc.stdout, sc.stderr
	if err := cmd.Run(); err != nil {
		return sc.errorf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	fmt.Fprintf(sc.stdout, "%s is valid; the service re-reads it (the log says what changed and what waits for a restart)\n", sc.config)
	return 0
}
