#!/usr/bin/env bash
# CI for the gateway targets: build every target and package (release.sh),
# check the packages (one version everywhere, a real Maintainer, the
# service unprivileged, the .deb's systemd unit rated at most 2.5 by
# "systemd-analyze security --offline=true", the .ipk's buffer on flash),
# and run each foreign binary under qemu-user-static as a smoke test:
#   edgeflow version
#   edgeflow config init | edgeflow config validate --config /dev/stdin
#   a real run: the agent on 127.0.0.1:0 answers one PUSH_DATA with PUSH_ACK,
#   then stops cleanly on SIGTERM.
# The ARM binaries run on the CPUs they are built for (armv5 on an ARM926,
# armv6 on an ARM1176), the MIPS ones on a 24Kc without FPU (softfloat).
# Installs qemu-user-static with apt when missing; safe to run again.
#
#   scripts/ci-cross.sh                 # builds into a temporary directory
#   DIST=dist scripts/ci-cross.sh       # or into dist/ (kept)
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
tmp="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v qemu-arm-static >/dev/null || ! command -v qemu-mipsel-static >/dev/null; then
	echo "--- installing qemu-user-static"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq qemu-user-static >/dev/null
fi

VERSION="$(scripts/version.sh "${VERSION:-}")"
export VERSION
export DIST="${DIST:-$tmp/dist}"
echo "--- release.sh ($VERSION into $DIST)"
scripts/release.sh

echo "--- packages"
shopt -s nullglob
debs=("$DIST"/*.deb)
ipks=("$DIST"/*.ipk)
[ "${#debs[@]}" = 3 ] && [ "${#ipks[@]}" = 3 ] || { echo "want 3 .deb and 3 .ipk, have: ${debs[*]} ${ipks[*]}"; exit 1; }
for deb in "${debs[@]}"; do
	echo "$deb"
	if command -v dpkg-deb >/dev/null; then
		dpkg-deb --info "$deb" | grep -E '^ (Package|Version|Architecture|Maintainer|Depends):'
		[ "$(dpkg-deb --field "$deb" Version)" = "$VERSION" ] || { echo "$deb: Version is not $VERSION"; exit 1; }
		if dpkg-deb --field "$deb" Maintainer | grep -q localhost; then echo "$deb: Maintainer at localhost"; exit 1; fi
		contents="$(dpkg-deb --contents "$deb")"
		for f in ./usr/bin/edgeflow ./etc/edgeflow/edgeflow.yaml ./lib/systemd/system/edgeflow.service ./etc/init.d/edgeflow ./var/lib/edgeflow/; do
			grep -q " root/root .* $f\$" <<<"$contents" || { echo "$deb: no $f owned by root/root"; exit 1; }
		done
		dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/edgeflow/edgeflow.yaml
		dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/init.d/edgeflow
		dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/init.d/edgeflow | grep -q -- '--user edgeflow$' ||
			{ echo "$deb: the sysv script does not run the agent as edgeflow"; exit 1; }
	else
		[ "$(ar t "$deb" | tr '\n' ' ')" = "debian-binary control.tar.gz data.tar.gz " ]
	fi
done
for ipk in "${ipks[@]}"; do
	echo "$ipk"
	[ "$(tar -tzf "$ipk" | tr '\n' ' ')" = "./debian-binary ./data.tar.gz ./control.tar.gz " ] ||
		{ echo "$ipk: outer members $(tar -tzf "$ipk")"; exit 1; }
	data="$(tar -xzOf "$ipk" ./data.tar.gz | tar -tzvf -)"
	for f in ./usr/bin/edgeflow ./etc/edgeflow/edgeflow.yaml ./etc/init.d/edgeflow; do
		grep -q " root/root .* $f\$" <<<"$data" || { echo "$ipk: no $f owned by root/root"; exit 1; }
	done
	tar -xzOf "$ipk" ./data.tar.gz | tar -xzO ./etc/init.d/edgeflow | grep -q 'procd_set_param respawn 3600 5 -1'
	tar -xzOf "$ipk" ./data.tar.gz | tar -xzO ./etc/init.d/edgeflow | grep -q 'procd_set_param user edgeflow'
	# The buffer on flash: /var, /tmp and /run are RAM on OpenWrt.
	bufpath="$(tar -xzOf "$ipk" ./data.tar.gz | tar -xzO ./etc/edgeflow/edgeflow.yaml | sed -n 's/^  path: "\(.*\)"$/\1/p')"
	case "$bufpath" in
	/var/* | /tmp/* | /run/* | "") echo "$ipk: buffer.path \"$bufpath\" is not on flash"; exit 1 ;;
	esac
	echo "buffer.path: $bufpath, $(tar -xzOf "$ipk" ./data.tar.gz | tar -xzO ./etc/edgeflow/edgeflow.yaml | grep '^  maxSize:')"
	tar -xzOf "$ipk" ./control.tar.gz | tar -xzO ./control | grep -qx "Version: $VERSION" || { echo "$ipk: Version is not $VERSION"; exit 1; }
	tar -xzOf "$ipk" ./control.tar.gz | tar -xzO ./conffiles | grep -qx /etc/edgeflow/edgeflow.yaml
	tar -xzOf "$ipk" ./control.tar.gz | tar -xzO ./control | grep -E '^(Package|Version|Architecture):'
done
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS)

echo "--- the .deb's systemd unit: systemd-analyze security --offline=true"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/unit"
	(cd "$tmp/unit" && ar p "${debs[0]}" data.tar.gz | tar -xzO ./lib/systemd/system/edgeflow.service >edgeflow.service)
	exposure="$(systemd-analyze security --offline=true "$tmp/unit/edgeflow.service" 2>&1 |
		sed -n 's/.*Overall exposure level for edgeflow.service: \([0-9.]*\).*/\1/p')"
	echo "exposure: ${exposure:-?} (at most 2.5)"
	awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.5) }' ||
		{ systemd-analyze security --offline=true "$tmp/unit/edgeflow.service" || true; exit 1; }
else
	echo "no systemd-analyze (Debian package systemd; .ci/run installs it): the unit is not rated"
fi

go build -o "$tmp/gwtest" ./scripts/gwtest

# smoke NAME EMULATOR...: run dist/edgeflow_linux_NAME under EMULATOR.
smoke() {
	local name="$1"
	shift
	local bin="$DIST/edgeflow_linux_$name" dir="$tmp/$name"
	local run=("$@" "$bin")
	mkdir -p "$dir"
	echo "--- $name: ${*:-native}"

	local v
	v="$("${run[@]}" version)"
	[ "$v" = "edgeflow $VERSION" ] || { echo "version: \"$v\", want \"edgeflow $VERSION\""; return 1; }
	echo "$v"

	"${run[@]}" config init | "${run[@]}" config validate --config /dev/stdin

	cat >"$dir/edgeflow.yaml" <<YAML
packetForwarder:
  udp:
    bind: "127.0.0.1:0"
api:
  bind: "127.0.0.1:0"
buffer:
  path: "$dir/buffer.db"
connections:
  - {"name":"CI","connectorId":"actility-http-iot","configuration":{"destinationURL":"http://127.0.0.1:9/uplink"}}
YAML
	HOME="$dir" "${run[@]}" run --config "$dir/edgeflow.yaml" 2>"$dir/log" &
	local pid=$!
	pids+=("$pid")
	local addr=""
	for _ in $(seq 300); do
		addr="$(grep -o 'msg="edgeflow started".* udp=[^ ]*' "$dir/log" | sed 's/.* udp=//' || true)"
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$addr" ]; then
		echo "$name: the agent did not start:"
		cat "$dir/log"
		return 1
	fi
	"$tmp/gwtest" push -addr "$addr" -wait 30s
	kill -TERM "$pid"
	local code=0
	wait "$pid" || code=$?
	if [ "$code" != 0 ]; then
		echo "$name: exit $code after SIGTERM:"
		cat "$dir/log"
		return 1
	fi
	echo "$name: started on $addr, PUSH_ACK received, stopped cleanly"
}

smoke amd64
smoke arm64 qemu-aarch64-static
smoke armv5 qemu-arm-static -cpu arm926
smoke armv6 qemu-arm-static -cpu arm1176
smoke armv7 qemu-arm-static -cpu cortex-a7
smoke mips_softfloat qemu-mips-static -cpu 24Kc
smoke mipsle_softfloat qemu-mipsel-static -cpu 24Kc
echo "--- ci-cross: every target built, packaged and run"
