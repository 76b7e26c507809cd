package main

import (
	"fmt"
	"io"
	"os"

	"edgeflow/config"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// defaultConfigPath is read by run when no --config is given, if it exists.
const defaultConfigPath = config.DefaultPath

const usage = `edgeflow — LoRaWAN gateway agent: uplinks to Cayenne and other IoT Flow connections

Usage:
  edgeflow run [--config FILE] [--allow-root]
                                            run the agent in the foreground
  edgeflow config validate --config FILE    check a configuration file
  edgeflow config init                      print a complete commented configuration
  edgeflow buffer check FILE                check a buffer file (exit 0 when sound)
  edgeflow buffer deadletters list|replay [--connection NAME] [--config FILE]
                                            uplinks endpoints refused, through the running agent
  edgeflow status [--api ADDR] [--config FILE]
                                            what the running agent is doing, at a glance
  edgeflow connections test NAME --dev-eui EUI --payload HEX [--fport N] [--config FILE]
                                            send one test uplink through a connection
  edgeflow service install|uninstall|start|stop|restart|reload|status|platform [--init SYSTEM] [--config FILE]
                                            run as a system service (systemd, sysv, procd, openrc)
                                            as the edgeflow user
  edgeflow forwarder attach|detach --forwarder-config FILE [--config FILE]
                                            point a Semtech packet forwarder at edgeflow, its
                                            network server kept as a relay upstream (and back)
  edgeflow version                          print the version

With no --config, run reads ` + defaultConfigPath + ` when it exists,
else runs on built-in defaults. As root, run refuses to touch files that
belong to the edgeflow user (an installed service's) unless --allow-root.
`

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

// runCLI dispatches a command line and returns the exit status.
func runCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "buffer":
		return cmdBuffer(args[1:], stdout, stderr)
	case "service":
		return cmdService(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "connections":
		return cmdConnections(args[1:], stdout, stderr)
	case "forwarder":
		return cmdForwarder(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "edgeflow", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "edgeflow: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
