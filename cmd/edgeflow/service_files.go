package main

// The service files, in kardianos/service v1.3.0's template syntax ({{Key}},
// {{range Key}}…{{end}}; no {{.Key}}). The packages in scripts/packaging
// carry the same files rendered for /usr/bin/edgeflow and
// /etc/edgeflow/edgeflow.yaml; service_test.go keeps them in step.

// The @…@ words are replaced before kardianos renders a template (it has
// no keys for them): @CONFIG@ the configuration file, @RW_DIRS@ the
// directories the agent writes (the configuration's, which the API's
// atomic save needs, and the buffer's), @STATE_DIR@ the buffer's.

// systemdUnit restarts a failed agent after 5 s and never gives up
// (kardianos' own unit waits 120 s); the agent logs to journald. It runs
// as the edgeflow user in a sandbox: it needs the network, its two
// directories and nothing else ("systemd-analyze security edgeflow"
// rates it about 1.5; scripts/ci-cross.sh holds it under 2.5). A
// buffer.path outside these directories needs adding to ReadWritePaths.
const systemdUnit = `[Unit]
Description={{Description}}
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
User=` + serviceUser + `
Group=` + serviceUser + `
ExecStart={{Path}}{{range Arguments}} {{.}}{{end}}
ExecReload=/bin/kill -{{ReloadSignal}} $MAINPID
Restart={{Restart}}
RestartSec=` + restartDelay + `
TimeoutStopSec=30
EnvironmentFile=-/etc/default/{{Name}}
SyslogIdentifier={{Name}}

StateDirectory={{Name}}
StateDirectoryMode=0750
ReadWritePaths=@RW_DIRS@
UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
DevicePolicy=closed
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
# The Go heap is held near 20 MiB (GOMEMLIMIT); this bounds a leak on a
# gateway that shares 128-512 MB with its packet forwarder.
MemoryMax=128M

[Install]
WantedBy=multi-user.target
`

// procdScript is an OpenWrt procd init script: run as the edgeflow user,
// in a ujail where the firmware has one (the network, its directories,
// the CA certificates and the resolver only), respawned 5 s after a
// failure for ever, stdout and stderr to logd; "reload" sends SIGHUP, and
// procd restarts it when the configuration file changes.
const procdScript = `#!/bin/sh /etc/rc.common
# {{Name}}: LoRaWAN gateway agent, supervised by procd, run as ` + serviceUser + `.
# Logs: logread -e {{Name}}. Reload the configuration: /etc/init.d/{{Name}} reload
USE_PROCD=1
START=99
STOP=10

start_service() {
	procd_open_instance
	procd_set_param command {{Path}}{{range Arguments}} {{.}}{{end}}
	procd_set_param user ` + serviceUser + `
	procd_set_param no_new_privs 1
	procd_set_param respawn 3600 ` + restartDelay + ` -1
	procd_set_param file @CONFIG@
	procd_set_param stdout 1
	procd_set_param stderr 1
	if [ -x /sbin/ujail ]; then
		procd_add_jail {{Name}} log
		procd_add_jail_mount_rw @RW_DIRS@
		for p in /etc/ssl/certs /etc/resolv.conf /tmp/resolv.conf /tmp/resolv.conf.d /tmp/resolv.conf.auto /etc/hosts /etc/TZ; do
			[ -e "$p" ] && procd_add_jail_mount "$p"
		done
	fi
	procd_close_instance
}

reload_service() {
	procd_send_signal {{Name}} '*' HUP
}
`

// openrcScript runs the agent as the edgeflow user under supervise-daemon,
// restarted 5 s after a failure; the agent logs to syslog.
const openrcScript = `#!/sbin/openrc-run
# edgeflow: LoRaWAN gateway agent, supervised by supervise-daemon, run as ` + serviceUser + `.
name="edgeflow"
description="{{Description}}"
supervisor=supervise-daemon
command={{Path}}
command_args="{{range Arguments}}{{.}} {{end}}"
command_user="` + serviceUser + `:` + serviceUser + `"
respawn_delay=` + restartDelay + `
respawn_max=0
extra_started_commands="reload"

depend() {
	need net
	use logger dns
	after firewall
}

start_pre() {
	checkpath --directory --owner ` + serviceUser + `:` + serviceUser + ` --mode 0750 @STATE_DIR@
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
// SIGTERM (stop). The loop runs as root and starts the agent with --user
// edgeflow: the agent switches to that user before it opens anything. The
// agent logs to syslog, or, without one, to a capped file in its state
// directory; nothing goes to /var/log files. Only POSIX sh and BusyBox
// tools (no ps, seq or start-stop-daemon). When the binary is gone (the
// package was removed) the loop ends instead of retrying for ever.
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
# Written by "edgeflow service install". Logs go to syslog, else to
# @STATE_DIR@/edgeflow.log (capped).

name=edgeflow
pid_file=/var/run/$name.pid             # the supervisor loop
agent_pid_file=/var/run/$name.agent.pid # the agent it runs
restart_delay=` + restartDelay + `

[ -r /etc/default/$name ] && . /etc/default/$name

run_agent() {
	exec {{Path}}{{range Arguments}} {{.}}{{end}}
}

say() {
	if [ -S /dev/log ] && command -v logger >/dev/null 2>&1; then
		logger -t "$name" -p daemon.warning "$*" && return 0
	fi
	# No syslog: the agent's own log file, once it has made one (appended
	# to, it stays the agent's).
	[ -f @STATE_DIR@/edgeflow.log ] &&
		echo "time=$(date -u +%Y-%m-%dT%H:%M:%SZ) level=WARN msg=\"$*\" source=init.d" >>@STATE_DIR@/edgeflow.log
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
		if [ ! -x {{Path}} ]; then
			say "{{Path}} is gone (package removed?); not restarting the agent"
			break
		fi
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
	# Removed but not purged (the script is a conffile): nothing to start.
	[ -x {{Path}} ] || exit 0
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
