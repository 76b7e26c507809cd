// Command edgeflow is the LoRaWAN gateway agent: it decodes the uplinks the
// gateway receives, keeps them on flash through outages and delivers them to
// the cloud connections configured on the gateway.
//
// Subcommands (see usage in main.go): run, config (validate, init), buffer
// (check, deadletters), status, connections test, service (install and
// control under systemd, sysv, procd or openrc), forwarder attach|detach
// (point a Semtech packet forwarder at edgeflow, its network server kept
// as a relay upstream) and version. status and
// buffer deadletters talk to the running agent through its local API.
//
// run starts the agent in the foreground. It sets the Go runtime for a
// gateway first: a soft memory limit (20 MiB unless GOMEMLIMIT is set) and
// GOMAXPROCS=1 unless set (docs/decisions/gomaxprocs.md). Installed
// services execute `service run`, which runs the same agent under
// kardianos/service (service_run.go) with the same memory limit and
// GOMAXPROCS; the start line says which (gomaxprocs=).
//
// Goroutines: besides the agent's, run has one that watches the
// configuration (SIGHUP, and the file and its devices file: their
// directories' inotify events, read by a second goroutine on the
// netpoller, and a look every minute; without inotify, every 2 s) and
// reloads it; an invalid file is reported with every problem and the
// running configuration stays. Under a service manager, the agent runs
// on a goroutine of its own while the manager's callbacks wait.
//
// Caveats: as root, run refuses to touch files owned by the edgeflow user
// (an installed service's) unless --allow-root. The agent checks a suspect
// buffer file by running `edgeflow buffer check` as a child process: bbolt
// reports some corruption by panicking in its own goroutines, which no
// recover can catch, and the agent must not crash-loop on its own data.
package main
