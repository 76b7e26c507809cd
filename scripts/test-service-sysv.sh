#!/usr/bin/env bash
# End-to-end test of "edgeflow service" on a System V init machine, for real:
# install (copies the binary to /usr/bin/edgeflow, creates the edgeflow user,
# writes /etc/init.d/edgeflow and the rc links), start (the agent runs as
# edgeflow), answer PUSH_DATA on the configured port, status, reload
# (SIGHUP, and "edgeflow service reload", which refuses an invalid file),
# restart after a crash (kill -9), restart, stop, and uninstall of a
# crash-looping service (its supervisor goes too).
#
# It changes the system, so it is for a throwaway root environment (a
# container or VM) only; it refuses to run where edgeflow is already
# installed, puts back a /usr/bin/edgeflow it finds, and cleans up on exit
# (the edgeflow user too, when it created it).
# No init system needs to be running: sysv init scripts are plain programs.
#
#   sudo scripts/test-service-sysv.sh
#   sudo BUSYBOX=1 scripts/test-service-sysv.sh   # the init script under BusyBox
#                  sh and applets, and no "service" command (as on Yocto)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "test-service-sysv: run as root, in a throwaway environment" >&2
	exit 1
fi
if [ -e /etc/init.d/edgeflow ] || [ -e /var/lib/dpkg/info/edgeflow.list ] || [ -e /usr/lib/opkg/info/edgeflow.list ]; then
	echo "test-service-sysv: edgeflow is already installed here; not touching it" >&2
	exit 1
fi

tmp="$(mktemp -d /tmp/edgeflow-sysv.XXXXXX)"
chmod 755 "$tmp" # the agent, as edgeflow, reads its configuration in there
syslog_pid=""
bin_backup=""
user_made=""
getent passwd edgeflow >/dev/null || user_made=1
failed=1

cleanup() {
	set +e
	if [ -x /etc/init.d/edgeflow ]; then
		/etc/init.d/edgeflow stop >/dev/null 2>&1
		rm -f /etc/init.d/edgeflow
	fi
	for l in /etc/rc?.d/[SK][0-9][0-9]edgeflow; do
		[ "$(readlink "$l" 2>/dev/null)" = /etc/init.d/edgeflow ] && rm -f "$l"
	done
	for f in /var/run/edgeflow.pid /var/run/edgeflow.agent.pid; do
		p="$(cat "$f" 2>/dev/null)" && [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	rm -f /var/run/edgeflow.pid /var/run/edgeflow.agent.pid
	rm -f /usr/bin/edgeflow
	if [ -n "$user_made" ] && getent passwd edgeflow >/dev/null; then
		userdel edgeflow
		getent group edgeflow >/dev/null && groupdel edgeflow
	fi
	[ -n "$bin_backup" ] && mv "$bin_backup" /usr/bin/edgeflow
	if [ -n "$syslog_pid" ]; then
		kill "$syslog_pid" 2>/dev/null
		wait "$syslog_pid" 2>/dev/null
		rm -f /dev/log
	fi
	rm -rf "$tmp"
	if [ "$failed" = 1 ]; then echo "FAIL" >&2; fi
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() {
	echo "FAIL: $*" >&2
	if [ -s "$tmp/syslog.txt" ]; then
		echo "--- syslog" >&2
		cat "$tmp/syslog.txt" >&2
	fi
	exit 1
}
status_is() { # expected status word, exit code
	local out code=0
	out="$(/usr/bin/edgeflow service status 2>&1)" || code=$?
	echo "edgeflow service status: $out (exit $code)"
	[ "$out" = "$1" ] && [ "$code" = "$2" ] || fail "status is \"$out\" (exit $code), want \"$1\" (exit $2)"
}
agent_pid() { cat /var/run/edgeflow.agent.pid 2>/dev/null || true; }

if [ -e /usr/bin/edgeflow ]; then
	bin_backup="$tmp/usr-bin-edgeflow.orig"
	mv /usr/bin/edgeflow "$bin_backup"
fi

step "build edgeflow and the test bench into $tmp (install must copy the binary from there)"
CGO_ENABLED=0 go build -o "$tmp/edgeflow" ./cmd/edgeflow
CGO_ENABLED=0 go build -o "$tmp/gwtest" ./scripts/gwtest
"$tmp/edgeflow" version

if [ ! -S /dev/log ]; then
	# No syslog daemon here: listen on /dev/log to see what the agent logs.
	"$tmp/gwtest" syslog -socket /dev/log -out "$tmp/syslog.txt" &
	syslog_pid=$!
	for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
	echo "syslog: a test listener on /dev/log (pid $syslog_pid)"
fi

port="$("$tmp/gwtest" freeport)"
mkdir -p "$tmp/etc"
cfg="$tmp/etc/edgeflow.yaml"
cat >"$cfg" <<YAML
packetForwarder:
  udp:
    bind: "127.0.0.1:$port"
api:
  bind: "127.0.0.1:0"
buffer:
  path: "$tmp/data/buffer.db"
connections:
  - {"name":"Test bench","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://127.0.0.1:9/uplink"}}
YAML
"$tmp/edgeflow" config validate --config "$cfg"

if [ "${BUSYBOX:-}" = 1 ]; then
	bb="$tmp/busybox-bin"
	mkdir -p "$bb"
	for a in sh tr cat sleep kill rm setsid logger; do ln -s "$(command -v busybox)" "$bb/$a"; done
	PATH="$bb:$(dirname "$(command -v go)"):/usr/bin:/bin"
	command -v service >/dev/null && fail "a service command is still in PATH"
	echo "BusyBox mode: $(busybox | head -1); no \"service\" in PATH"
fi

step "platform"
"$tmp/edgeflow" service platform --init sysv

step "install --init sysv"
"$tmp/edgeflow" service install --init sysv --config "$cfg"
[ -x /etc/init.d/edgeflow ] || fail "no executable /etc/init.d/edgeflow"
if [ "${BUSYBOX:-}" = 1 ]; then
	sed -i "1s|^#!/bin/sh\$|#!$bb/sh|" /etc/init.d/edgeflow
	head -1 /etc/init.d/edgeflow
fi
cmp -s "$tmp/edgeflow" /usr/bin/edgeflow || fail "/usr/bin/edgeflow is not a copy of the binary"
grep -qF "exec /usr/bin/edgeflow service run --config $cfg --log syslog --user edgeflow" /etc/init.d/edgeflow ||
	fail "/etc/init.d/edgeflow does not run /usr/bin/edgeflow with $cfg as edgeflow"
getent passwd edgeflow || fail "no edgeflow user"
[ "$(stat -c %U "$cfg")" = edgeflow ] && [ "$(stat -c %U "$tmp/data")" = edgeflow ] ||
	fail "the configuration or the state directory is not edgeflow's"
for l in /etc/rc2.d/S50edgeflow /etc/rc3.d/S50edgeflow /etc/rc4.d/S50edgeflow /etc/rc5.d/S50edgeflow \
	/etc/rc0.d/K02edgeflow /etc/rc1.d/K02edgeflow /etc/rc6.d/K02edgeflow; do
	[ "$(readlink "$l")" = /etc/init.d/edgeflow ] || fail "$l is not a link to /etc/init.d/edgeflow"
done
ls -l /etc/init.d/edgeflow /etc/rc?.d/*edgeflow
status_is stopped 3
if "$tmp/edgeflow" service install --init sysv --config "$cfg" 2>/dev/null; then fail "a second install succeeded"; fi

step "start (kardianos runs \"service edgeflow start\"; without it, /etc/init.d/edgeflow start)"
/usr/bin/edgeflow service start
status_is running 0
if command -v service >/dev/null; then
	service edgeflow status || fail "service edgeflow status"
else
	/etc/init.d/edgeflow status || fail "/etc/init.d/edgeflow status"
fi
"$tmp/gwtest" push -addr "127.0.0.1:$port"
[ "$(stat -c %U "/proc/$(agent_pid)")" = edgeflow ] || fail "the agent does not run as edgeflow"
echo "the agent runs as $(stat -c %U "/proc/$(agent_pid)"); the supervisor as $(stat -c %U "/proc/$(cat /var/run/edgeflow.pid)")"

step "edgeflow service reload refuses an invalid file and says why"
cp -p "$cfg" "$tmp/good.yaml"
sed -i 's/^    bind:/    bnd:/' "$cfg"
if /usr/bin/edgeflow service reload 2>"$tmp/reload.err"; then fail "a reload of an invalid file succeeded"; fi
cat "$tmp/reload.err"
grep -q bnd "$tmp/reload.err" || fail "the problem is not named"
cp -p "$tmp/good.yaml" "$cfg"
/usr/bin/edgeflow service reload

step "reload: /etc/init.d/edgeflow reload sends SIGHUP, the agent stays up"
before="$(agent_pid)"
/etc/init.d/edgeflow reload
sleep 1
[ "$(agent_pid)" = "$before" ] || fail "the agent was restarted by a reload"
if [ -n "$syslog_pid" ]; then
	grep -q "reload requested" "$tmp/syslog.txt" || fail "no \"reload requested\" in syslog"
	grep "reload" "$tmp/syslog.txt" | tail -2
fi
"$tmp/gwtest" push -addr "127.0.0.1:$port"

step "crash: kill -9 the agent; the init script's supervisor restarts it within seconds"
old="$(agent_pid)"
kill -9 "$old"
t0=$(date +%s)
for _ in $(seq 150); do
	new="$(agent_pid)"
	[ -n "$new" ] && [ "$new" != "$old" ] && [ -d "/proc/$new" ] && break
	sleep 0.1
done
[ -n "$new" ] && [ "$new" != "$old" ] || fail "no new agent 15 s after kill -9"
"$tmp/gwtest" push -addr "127.0.0.1:$port"
echo "agent $old killed; agent $new answering after $(($(date +%s) - t0)) s"
status_is running 0

step "restart"
/usr/bin/edgeflow service restart
status_is running 0
"$tmp/gwtest" push -addr "127.0.0.1:$port"

step "stop"
/usr/bin/edgeflow service stop
status_is stopped 3
if "$tmp/gwtest" push -addr "127.0.0.1:$port" -wait 2s 2>/dev/null; then fail "still answering after stop"; fi
echo "no PUSH_ACK after stop, as it should be"
[ ! -e /var/run/edgeflow.pid ] || fail "pid file left behind"

step "uninstall of a crash-looping service: its supervisor goes too"
/usr/bin/edgeflow service start
sed -i 's/^    bind:/    bnd:/' "$cfg"
kill -9 "$(agent_pid)"
sleep 2 # the supervisor restarts the agent, which now fails: restarting every 5 s
out="$(/usr/bin/edgeflow service status 2>&1)" || true
echo "edgeflow service status: $out"
case "$out" in restarting*) ;; *) fail "status \"$out\", want restarting" ;; esac
supervisor="$(cat /var/run/edgeflow.pid)"
/usr/bin/edgeflow service uninstall
if [ -d "/proc/$supervisor" ] && ! grep -q '^State:.*Z' "/proc/$supervisor/status" 2>/dev/null; then
	fail "the supervisor $supervisor is still running"
fi
echo "the supervisor $supervisor is gone"
status_is "not installed" 4
[ ! -e /etc/init.d/edgeflow ] || fail "/etc/init.d/edgeflow is still there"
if ls /etc/rc?.d/*edgeflow >/dev/null 2>&1; then fail "rc links left: $(ls /etc/rc?.d/*edgeflow)"; fi
echo "/etc/init.d/edgeflow and the rc links are gone"

if [ -n "$syslog_pid" ]; then
	step "what reached syslog"
	cat "$tmp/syslog.txt"
fi
failed=0
echo
echo "PASS: sysv install (as edgeflow), start, PUSH_ACK, status, reload, crash restart, restart, stop, uninstall of a crash loop"
