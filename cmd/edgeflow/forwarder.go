package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"edgeflow/config"
	"edgeflow/packetfwd/fwdconf"
)

// lora_pkt_fwd's own defaults when gateway_conf leaves the ports out
// (DEFAULT_PORT_UP, DEFAULT_PORT_DW).
const (
	fwdDefaultPortUp   = 1780
	fwdDefaultPortDown = 1782
)

// backupSuffix names the copy of the forwarder's file kept by attach.
const backupSuffix = ".edgeflow-backup"

const forwarderUsage = `Usage:
  edgeflow forwarder attach --forwarder-config FILE [--config CFG]
      point a Semtech packet forwarder (lora_pkt_fwd) at edgeflow: its
      network server becomes a relay upstream of edgeflow, so that it keeps
      getting every datagram, and the forwarder sends to edgeflow's UDP
      listener. FILE is global_conf.json or local_conf.json; a copy is kept
      as FILE` + backupSuffix + `.
  edgeflow forwarder detach --forwarder-config FILE [--config CFG]
      point the forwarder back at its network server and drop the upstream.
`

func cmdForwarder(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "attach" && args[0] != "detach") {
		fmt.Fprint(stderr, forwarderUsage)
		return 2
	}
	fs := flag.NewFlagSet("forwarder "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("forwarder-config", "", "the packet forwarder's global_conf.json or local_conf.json")
	cfgPath := fs.String("config", defaultConfigPath, "edgeflow's configuration file (created when missing)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, forwarderUsage)
		return 2
	}
	var err error
	if args[0] == "attach" {
		err = forwarderAttach(*file, *cfgPath, stdout)
	} else {
		err = forwarderDetach(*file, *cfgPath, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgeflow forwarder %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// fwdFile is the forwarder's file as read.
type fwdFile struct {
	path string
	text []byte
	conf *fwdconf.File
	srv  fwdconf.Server // with lora_pkt_fwd's default ports filled in
	info fs.FileInfo
}

func readForwarder(path string) (*fwdFile, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	f, err := fwdconf.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.MultiServer() {
		return nil, fmt.Errorf("%s: gateway_conf lists \"servers\" (a multi-server forwarder); it can send to edgeflow itself: add a server with address 127.0.0.1 and edgeflow's port", path)
	}
	srv, err := f.Server()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if srv.Address == "" {
		return nil, fmt.Errorf("%s: no gateway_conf.server_address; give the file that names the network server", path)
	}
	if srv.PortUp == 0 {
		srv.PortUp = fwdDefaultPortUp
	}
	if srv.PortDown == 0 {
		srv.PortDown = fwdDefaultPortDown
	}
	if err := shadowed(path); err != nil {
		return nil, err
	}
	return &fwdFile{path: path, text: text, conf: f, srv: srv, info: fi}, nil
}

// shadowed refuses global_conf.json when the local_conf.json beside it
// names the server: lora_pkt_fwd reads local_conf.json last, so an edit
// of global_conf.json would change nothing.
func shadowed(path string) error {
	if filepath.Base(path) != "global_conf.json" {
		return nil
	}
	local := filepath.Join(filepath.Dir(path), "local_conf.json")
	text, err := os.ReadFile(local)
	if err != nil {
		return nil
	}
	f, err := fwdconf.Parse(text)
	if err != nil {
		return fmt.Errorf("%s beside it does not read: %v", local, err)
	}
	if s, err := f.Server(); err == nil && s != (fwdconf.Server{}) {
		return fmt.Errorf("%s sets the server and overrides %s: give --forwarder-config %s", local, filepath.Base(path), local)
	}
	return nil
}

// loadEdgeflow reads edgeflow's configuration, or the built-in defaults
// when the file does not exist yet.
func loadEdgeflow(path string) (*config.Config, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not valid, nothing changed:\n%v", path, err)
	}
	return cfg, nil
}

// listener is where the forwarder must send to reach edgeflow: its UDP
// bind, on loopback when it listens on every interface.
func listener(cfg *config.Config) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(cfg.PacketForwarder.UDP.Bind)
	if err != nil {
		return "", 0, err
	}
	port, err = strconv.Atoi(p)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("packetForwarder.udp.bind %q has no fixed port", cfg.PacketForwarder.UDP.Bind)
	}
	switch ip := net.ParseIP(h); {
	case h == "" || h == "localhost" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
		h = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		h = "::1"
	}
	return h, port, nil
}

func forwarderAttach(file, cfgPath string, out io.Writer) error {
	cfg, err := loadEdgeflow(cfgPath)
	if err != nil {
		return err
	}
	host, port, err := listener(cfg)
	if err != nil {
		return err
	}
	f, err := readForwarder(file)
	if err != nil {
		return err
	}
	self := fwdconf.Server{Address: host, PortUp: port, PortDown: port}
	upstream := config.JoinUpstream(f.srv.Address, f.srv.PortUp, f.srv.PortDown)
	ups := cfg.PacketForwarder.UDP.Upstreams
	if cfg.PacketForwarder.UDP.IsSelf(upstream) || f.srv == self {
		// Already attached: the server it names is edgeflow.
		fmt.Fprintf(out, "%s already sends to edgeflow (%s); nothing changed.\n", file, net.JoinHostPort(f.srv.Address, strconv.Itoa(f.srv.PortUp)))
		if _, err := os.Stat(file + backupSuffix); err != nil {
			// Not attached by us: the port may be another program's.
			fmt.Fprintf(out, "note: no %s from an earlier attach; if another program (a gateway bridge, a local network server) listens there instead of edgeflow, give edgeflow another packetForwarder.udp.bind port and attach again\n", filepath.Base(file+backupSuffix))
		}
		if len(ups) == 0 {
			fmt.Fprintf(out, "warning: %s has no packetForwarder.udp.upstreams: no network server gets this gateway's traffic\n", cfgPath)
		}
		return nil
	}
	next, err := f.conf.SetServer(self)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	// The backup first, then edgeflow's upstream, then the forwarder: at
	// no step does the network server lose the gateway.
	if err := config.WriteFileAtomic(file+backupSuffix, f.text, f.info.Mode().Perm(), f.info); err != nil {
		return err
	}
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
		// The commented default, as "edgeflow service install" would
		// write it, so that the technician still finds every setting.
		if err := writeDefaultConfig(cfgPath, false); err != nil {
			return fmt.Errorf("writing the default configuration: %w", err)
		}
		fmt.Fprintf(out, "wrote the default configuration to %s\n", cfgPath)
	}
	if !slices.Contains(ups, upstream) {
		if err := config.SaveUpstreams(cfgPath, append(slices.Clone(ups), upstream)); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: packetForwarder.udp.upstreams: added %q (the forwarder's network server)\n", cfgPath, upstream)
	}
	if err := config.WriteFileAtomic(file, next, f.info.Mode().Perm(), f.info); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: gateway_conf.server_address %q -> %q, serv_port_up %d -> %d, serv_port_down %d -> %d\n",
		file, f.srv.Address, host, f.srv.PortUp, port, f.srv.PortDown, port)
	fmt.Fprintf(out, "backup of the forwarder's file: %s\n", file+backupSuffix)
	fmt.Fprintf(out, "A running edgeflow reading %s applies the upstream within seconds; one started without that file needs a restart (edgeflow service restart).\n", cfgPath)
	fmt.Fprintf(out, "Restart the packet forwarder so that it reads its file:\n  %s\n", restartHint())
	return nil
}

func forwarderDetach(file, cfgPath string, out io.Writer) error {
	cfg, err := loadEdgeflow(cfgPath)
	if err != nil {
		return err
	}
	f, err := readForwarder(file)
	if err != nil {
		return err
	}
	ups := cfg.PacketForwarder.UDP.Upstreams
	if !cfg.PacketForwarder.UDP.IsSelf(config.JoinUpstream(f.srv.Address, f.srv.PortUp, f.srv.PortDown)) {
		fmt.Fprintf(out, "%s sends to %s, not to edgeflow; nothing changed.\n", file, net.JoinHostPort(f.srv.Address, strconv.Itoa(f.srv.PortUp)))
		return nil
	}
	// The network server: from the backup attach kept, else the one
	// upstream edgeflow relays to.
	var orig fwdconf.Server
	if b, err := readForwarder(file + backupSuffix); err == nil && !cfg.PacketForwarder.UDP.IsSelf(config.JoinUpstream(b.srv.Address, b.srv.PortUp, b.srv.PortDown)) {
		orig = b.srv
	} else if len(ups) == 1 {
		h, u, d, _ := config.SplitUpstream(ups[0])
		orig = fwdconf.Server{Address: h, PortUp: u, PortDown: d}
	} else {
		return fmt.Errorf("no backup %s and %d upstreams in %s: cannot tell which network server to restore; edit %s by hand", file+backupSuffix, len(ups), cfgPath, file)
	}
	next, err := f.conf.SetServer(orig)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	// The forwarder first, so that the network server is never without
	// the gateway, then edgeflow's upstream.
	if err := config.WriteFileAtomic(file, next, f.info.Mode().Perm(), f.info); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: gateway_conf.server_address %q -> %q, serv_port_up %d -> %d, serv_port_down %d -> %d\n",
		file, f.srv.Address, orig.Address, f.srv.PortUp, orig.PortUp, f.srv.PortDown, orig.PortDown)
	upstream := config.JoinUpstream(orig.Address, orig.PortUp, orig.PortDown)
	if i := slices.Index(ups, upstream); i >= 0 {
		if err := config.SaveUpstreams(cfgPath, slices.Delete(slices.Clone(ups), i, i+1)); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: packetForwarder.udp.upstreams: removed %q\n", cfgPath, upstream)
	}
	fmt.Fprintf(out, "edgeflow gets no frames from this forwarder any more.\nRestart the packet forwarder so that it reads its file:\n  %s\n", restartHint())
	return nil
}

// restartHint names the command that restarts the packet forwarder on
// the usual gateway images, or says what to do.
func restartHint() string {
	for _, name := range []string{"lora_pkt_fwd", "lora-pkt-fwd", "lora-packet-forwarder", "packet-forwarder", "ttn-gateway", "lorawan-gateway"} {
		for _, dir := range []string{"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
			if _, err := os.Stat(filepath.Join(dir, name+".service")); err == nil {
				return "systemctl restart " + name
			}
		}
		if _, err := os.Stat("/etc/init.d/" + name); err == nil {
			return "/etc/init.d/" + name + " restart"
		}
	}
	return "restart lora_pkt_fwd the way it was started (systemctl restart <unit>, /etc/init.d/<script> restart, or stop and start it)"
}
