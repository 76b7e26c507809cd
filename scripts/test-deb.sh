#!/usr/bin/env bash
# The amd64 .deb on this machine, for real: "dpkg -i" starts an agent that
# runs unprivileged (as the edgeflow user) and answers PULL_DATA on its
# port; "edgeflow service status" and "reload" work; with no syslog the log
# goes to the capped file in the state directory; a second "dpkg -i" (an
# upgrade) restarts it; "dpkg --purge" leaves no
# edgeflow process and no file: the package's, its state, its rc and enable
# links, its pid files. With systemd running the package starts its unit;
# without (this machine, sysvinit hosts, containers) its System V script.
#
# It changes the machine, so it runs as root only, refuses where edgeflow is
# installed, and puts everything back on exit: the package purged, the
# edgeflow user removed if it made it. invoke-rc.d honours policy-rc.d, and
# a Docker-style image's denies every service (exit 101); for the test a
# policy-rc.d that allows edgeflow only stands in for it, then the
# original comes back. The packaged configuration's ports (1700, 8090) are
# used when free; else a configuration with free ports is put in place
# first and kept (dpkg --force-confold).
#
#   sudo scripts/test-deb.sh                      # builds the .deb first
#   sudo DEB=dist/edgeflow_X_amd64.deb scripts/test-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "test-deb: run as root (it installs and purges a package)" >&2
	exit 1
fi
if dpkg-query -W edgeflow >/dev/null 2>&1 || [ -e /usr/bin/edgeflow ] || [ -e /etc/init.d/edgeflow ]; then
	echo "test-deb: edgeflow is already installed here; not touching it" >&2
	exit 1
fi

tmp="$(mktemp -d /tmp/edgeflow-deb.XXXXXX)"
policy=/usr/sbin/policy-rc.d
policy_saved=""
policy_made=""
user_made=""
failed=1

cleanup() {
	set +e
	if dpkg-query -W edgeflow >/dev/null 2>&1; then
		echo "--- cleanup: dpkg --purge edgeflow"
		dpkg --purge edgeflow >/dev/null
	fi
	for p in $(edgeflow_pids); do kill -KILL "$p" 2>/dev/null; done
	if [ -n "$policy_saved" ]; then
		mv -f "$policy_saved" "$policy"
	elif [ -n "$policy_made" ]; then
		rm -f "$policy"
	fi
	if [ -n "$user_made" ] && getent passwd edgeflow >/dev/null; then
		userdel edgeflow 2>/dev/null
		getent group edgeflow >/dev/null && groupdel edgeflow 2>/dev/null
	fi
	rm -rf "$tmp"
	if [ "$failed" = 1 ]; then echo "FAIL" >&2; fi
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# edgeflow_pids: the package's processes: its binary (also once deleted)
# and the init script's supervisor loop. Test binaries elsewhere are not.
edgeflow_pids() {
	local p exe cmd
	for p in /proc/[0-9]*; do
		exe="$(readlink "$p/exe" 2>/dev/null || true)"
		cmd="$({ tr '\000' ' ' <"$p/cmdline"; } 2>/dev/null || true)"
		case "$exe $cmd" in
		/usr/bin/edgeflow* | *"/etc/init.d/edgeflow supervise"*) echo "${p#/proc/}" ;;
		esac
	done
}

# leftovers: every path named after edgeflow where a package puts things.
leftovers() {
	find /etc /var/lib /var/log /var/cache /run /usr/bin /usr/sbin /usr/lib /lib -xdev \
		-name '*edgeflow*' 2>/dev/null | sort
}

step "the package"
if [ -z "${DEB:-}" ]; then
	version="$(scripts/version.sh)"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp/edgeflow" ./cmd/edgeflow
	"$tmp/edgeflow" config init >"$tmp/edgeflow.yaml"
	go build -o "$tmp/pkgbuild" ./scripts/pkgbuild
	DEB="$tmp/edgeflow_${version}_amd64.deb"
	"$tmp/pkgbuild" -format deb -arch amd64 -version "$version" -binary "$tmp/edgeflow" \
		-config "$tmp/edgeflow.yaml" -files scripts/packaging -out "$DEB"
fi
dpkg-deb --info "$DEB" | grep -E '^ (Package|Version|Architecture|Maintainer|Depends):'
CGO_ENABLED=0 go build -o "$tmp/gwtest" ./scripts/gwtest

before="$(leftovers)"
getent passwd edgeflow >/dev/null || user_made=1

if [ -d /run/systemd/system ]; then
	echo "systemd runs here: the package starts its unit"
elif [ -x "$policy" ] && ! "$policy" edgeflow start >/dev/null 2>&1; then
	policy_saved="$tmp/policy-rc.d.orig"
	cp -p "$policy" "$policy_saved"
	cat >"$tmp/policy-rc.d" <<EOF
#!/bin/sh
# scripts/test-deb.sh: edgeflow may start and stop; the rest as before.
for a; do [ "\$a" = edgeflow ] && exit 0; done
exec $policy_saved "\$@"
EOF
	chmod 755 "$tmp/policy-rc.d"
	mv -f "$tmp/policy-rc.d" "$policy"
	echo "$policy denies services here; edgeflow allowed for the test"
elif [ ! -e "$policy" ] && ! runlevel >/dev/null 2>&1; then
	# No init system: invoke-rc.d starts nothing without a policy saying so.
	policy_made=1
	printf '#!/bin/sh\n# scripts/test-deb.sh: edgeflow only.\nfor a; do [ "$a" = edgeflow ] && exit 0; done\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	echo "no init system here: a policy-rc.d allowing edgeflow for the test"
fi

udp=127.0.0.1:1700
dpkg_opts=()
if ! "$tmp/gwtest" canbind udp:127.0.0.1:1700 tcp:127.0.0.1:8090 2>/dev/null; then
	udp="127.0.0.1:$("$tmp/gwtest" freeport)"
	api="127.0.0.1:$("$tmp/gwtest" freeport)"
	echo "1700/udp or 8090/tcp is taken here: the agent gets $udp and $api"
	mkdir -p /etc/edgeflow
	dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./etc/edgeflow/edgeflow.yaml |
		sed -e "s|\"127.0.0.1:1700\"|\"$udp\"|" -e "s|\"127.0.0.1:8090\"|\"$api\"|" >/etc/edgeflow/edgeflow.yaml
	grep -q "\"$udp\"" /etc/edgeflow/edgeflow.yaml || fail "could not set the UDP port in /etc/edgeflow/edgeflow.yaml"
	dpkg_opts=(--force-confold)
fi

step "dpkg -i ${dpkg_opts[*]} $(basename "$DEB")"
dpkg -i "${dpkg_opts[@]}" "$DEB"

step "an unprivileged agent answers PULL_DATA on $udp"
"$tmp/gwtest" pull -addr "$udp" -wait 30s || fail "no PULL_ACK"
uid="$(id -u edgeflow)"
agents=0
for p in $(edgeflow_pids); do
	exe="$(readlink "/proc/$p/exe" 2>/dev/null || true)"
	[ "$exe" = /usr/bin/edgeflow ] || continue
	agents=$((agents + 1))
	read -r _ ruid euid suid fsuid < <(grep '^Uid:' "/proc/$p/status")
	echo "agent $p: $(tr '\000' ' ' <"/proc/$p/cmdline"), uid $ruid/$euid/$suid/$fsuid"
	[ "$ruid $euid $suid $fsuid" = "$uid $uid $uid $uid" ] || fail "agent $p does not run as edgeflow (uid $uid)"
	grep -q '^CapEff:[[:space:]]*0*$' "/proc/$p/status" || fail "agent $p has capabilities: $(grep ^Cap "/proc/$p/status")"
done
[ "$agents" = 1 ] || fail "$agents agents running, want 1"
ls -ld /etc/edgeflow /etc/edgeflow/edgeflow.yaml /var/lib/edgeflow
[ "$(stat -c %U /var/lib/edgeflow)" = edgeflow ] && [ "$(stat -c %U /etc/edgeflow)" = edgeflow ] ||
	fail "the state or configuration directory is not edgeflow's"

step "edgeflow service status, reload"
out="$(/usr/bin/edgeflow service status)" || fail "service status: $out"
echo "edgeflow service status: $out"
[ "$out" = running ] || fail "status \"$out\""
/usr/bin/edgeflow service reload || fail "service reload"
cp -p /etc/edgeflow/edgeflow.yaml "$tmp/good.yaml"
sed -i 's/^    bind:/    bnd:/' /etc/edgeflow/edgeflow.yaml
if /usr/bin/edgeflow service reload 2>"$tmp/reload.err"; then fail "a reload of an invalid file succeeded"; fi
cat "$tmp/reload.err"
grep -q bnd "$tmp/reload.err" || fail "the invalid reload did not name the problem"
cp -p "$tmp/good.yaml" /etc/edgeflow/edgeflow.yaml
"$tmp/gwtest" pull -addr "$udp" -wait 10s || fail "no PULL_ACK after the reloads"

if [ ! -d /run/systemd/system ] && [ ! -S /dev/log ]; then
	step "no syslog here: the log is in /var/lib/edgeflow/edgeflow.log"
	[ -s /var/lib/edgeflow/edgeflow.log ] || fail "no /var/lib/edgeflow/edgeflow.log"
	cat /var/lib/edgeflow/edgeflow.log
	grep -q 'msg="edgeflow started".*logs="file /var/lib/edgeflow/edgeflow.log' /var/lib/edgeflow/edgeflow.log ||
		fail "the start line does not say where logs go"
	# The supervisor forwards the reload's SIGHUP to the agent, which logs
	# it a moment later: wait for the line rather than race it.
	for _ in $(seq 50); do
		grep -q 'reload requested' /var/lib/edgeflow/edgeflow.log && break
		sleep 0.1
	done
	grep -q 'reload requested' /var/lib/edgeflow/edgeflow.log || fail "the reload is not in the log"

	step "kill -9 the agent: the init script restarts it and says so in that log"
	old="$(cat /run/edgeflow.agent.pid)"
	kill -9 "$old"
	for _ in $(seq 150); do
		new="$(cat /run/edgeflow.agent.pid 2>/dev/null || true)"
		[ -n "$new" ] && [ "$new" != "$old" ] && break
		sleep 0.1
	done
	"$tmp/gwtest" pull -addr "$udp" -wait 30s || fail "no PULL_ACK after kill -9"
	grep 'source=init.d' /var/lib/edgeflow/edgeflow.log || fail "the restart is not in the log"
fi

step "dpkg -i again (an upgrade): the agent is restarted, still as edgeflow"
old="$(cat /run/edgeflow.agent.pid 2>/dev/null || true)"
# As an older, root-run version left it: the buffer root's. The upgrade
# hands it to edgeflow, or the restarted agent could not open it.
chown root:root /var/lib/edgeflow/buffer.db
dpkg -i "${dpkg_opts[@]}" "$DEB"
[ "$(stat -c %U /var/lib/edgeflow/buffer.db)" = edgeflow ] || fail "the buffer is not edgeflow's after the upgrade"
"$tmp/gwtest" pull -addr "$udp" -wait 30s || fail "no PULL_ACK after the upgrade"
new="$(cat /run/edgeflow.agent.pid 2>/dev/null || true)"
if [ ! -d /run/systemd/system ]; then
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "the agent was not restarted ($old, $new)"
	[ "$(stat -c %U "/proc/$new")" = edgeflow ] || fail "the restarted agent does not run as edgeflow"
	echo "agent $old replaced by $new, running as edgeflow"
fi

step "dpkg --purge edgeflow"
dpkg --purge edgeflow
sleep 1 # the init script's stop waits for the agent; give /proc a moment
left="$(edgeflow_pids)"
[ -z "$left" ] || fail "edgeflow processes left: $(for p in $left; do tr '\000' ' ' <"/proc/$p/cmdline"; echo; done)"
echo "no edgeflow process"
after="$(leftovers)"
new="$(comm -13 <(echo "$before") <(echo "$after"))"
[ -z "$new" ] || fail "left after the purge:"$'\n'"$new"
echo "no file left: $(echo "$after" | grep -c . || true) paths named edgeflow, as before the install"
if "$tmp/gwtest" pull -addr "$udp" -wait 2s >/dev/null 2>&1; then fail "still answering after the purge"; fi

failed=0
echo
echo "PASS: dpkg -i -> unprivileged agent answering PULL_DATA; dpkg --purge -> nothing left"
