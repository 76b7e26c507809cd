#!/bin/sh
# Compares two commits on issue 14's delivery budgets. Usage:
#   cmd/edgeflow-load/compare.sh BEFORE_REV AFTER_REV [OUT]
# (ONLY=arm or ONLY=amd64: just that arch's three side-by-side rounds.)
# Each rev is built for amd64 and armv7 (run under qemu-arm-static as a
# cortex-a7); $OUT/summary collects the lines that matter, with the ARM
# builds' guest instructions per uplink when scripts/qemu-icount builds.
#
# At 10 uplinks/s the host decides much of a run's CPU: one binary reads
# ±40 % from one run to the next, so figures from different runs do not
# compare. Those rows run before, after and the floor (cmd/edgeflow-load/
# floor: PUSH_ACK and one net/http POST per uplink, the least a forwarder
# does, on the agent's own socket calls) at the same time, each on its
# own load: the three see the same host, and the ratios between them move
# by 5–15 % where the figures move by ±40 %. The floor
# listens on 127.0.0.1:$FLOOR_PORT (UDP) and posts to its load's endpoint
# on the next port.
set -eu
before=$1 after=$2 out=${3:-/tmp/edgeflow-compare}
port=${FLOOR_PORT:-47810}
mkdir -p "$out"
go build -o "$out/load" ./cmd/edgeflow-load
CGO_ENABLED=0 go build -trimpath -o "$out/floor-amd64" ./cmd/edgeflow-load/floor
GOARCH=arm GOARM=7 CGO_ENABLED=0 go build -trimpath -o "$out/floor-arm" ./cmd/edgeflow-load/floor
for rev in "$before" "$after"; do
	dir="$out/src-$rev"
	[ -d "$dir" ] || git worktree add --detach "$dir" "$rev" >/dev/null
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$out/$rev-amd64" ./cmd/edgeflow &&
		GOARCH=arm GOARM=7 CGO_ENABLED=0 go build -trimpath -o "$out/$rev-arm" ./cmd/edgeflow)
	git worktree remove --force "$dir"
done
run() { # name, then edgeflow-load's arguments
	name=$1
	shift
	echo "== $name $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >>"$out/summary"
	"$out/load" "$@" >"$out/$name.txt" 2>&1 || true
	summarize "$name"
}
summarize() {
	grep -E '^(CPU|throughput|endpoint|RssAnon|disk writes)' "$out/$1.txt" >>"$out/summary" || true
}
cpu() { sed -n 's/^CPU  *\([0-9.]*\) .*/\1/p' "$out/$1.txt"; }
# paired ARCH ROUND DURATION [EMULATOR ARGS...]: before, after and the
# floor at 10 uplinks/s, at the same time.
paired() {
	arch=$1 i=$2 dur=$3
	shift 3
	"$@" "$out/floor-$arch" -udp "127.0.0.1:$port" -url "http://127.0.0.1:$((port + 1))/uplink" 2>"$out/floor-$arch-$i.log" &
	fpid=$!
	sleep 2
	echo "== $arch at 10/s, round $i, side by side $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >>"$out/summary"
	qemu=""
	[ $# -gt 0 ] && qemu="--qemu $1 --qemu-cpu cortex-a7"
	pids=""
	for rev in "$before" "$after"; do
		# shellcheck disable=SC2086 # $qemu is two options or none
		"$out/load" --agent "$out/$rev-$arch" $qemu --rate 10 --rxpk 1 --duration "$dur" >"$out/$arch-10-$rev-$i.txt" 2>&1 &
		pids="$pids $!"
	done
	"$out/load" --pid "$fpid" --udp "127.0.0.1:$port" --endpoint "127.0.0.1:$((port + 1))" \
		--rate 10 --rxpk 1 --duration "$dur" >"$out/floor-$arch-10-$i.txt" 2>&1 &
	pids="$pids $!"
	# shellcheck disable=SC2086
	wait $pids || true
	kill "$fpid" 2>/dev/null || true
	wait "$fpid" 2>/dev/null || true
	for name in "$arch-10-$before-$i" "$arch-10-$after-$i" "floor-$arch-10-$i"; do
		echo "-- $name" >>"$out/summary"
		summarize "$name"
	done
	f=$(cpu "floor-$arch-10-$i")
	awk -v b="$(cpu "$arch-10-$before-$i")" -v a="$(cpu "$arch-10-$after-$i")" -v f="$f" \
		'BEGIN { if (f > 0 && b > 0) printf "ratios   after/before %.2f, before/floor %.2f, after/floor %.2f\n", a / b, b / f, a / f }' >>"$out/summary"
}
only=${ONLY:-all} # ONLY=arm or ONLY=amd64: that arch's 10/s rounds alone
if [ "$only" = all ] || [ "$only" = amd64 ]; then
	for i in 1 2 3; do
		paired amd64 "$i" 60s
	done
fi
if [ "$only" = all ] || [ "$only" = arm ]; then
	for i in 1 2 3; do
		paired arm "$i" 40s qemu-arm-static -cpu cortex-a7
	done
fi
if [ "$only" = all ]; then
	for i in 1 2; do
		for rev in "$before" "$after"; do
			run "ref-$rev-$i" --agent "$out/$rev-amd64" --uplinks 20000 --rxpk 2 --window 64
		done
	done
	run "lat200-$after" --agent "$out/$after-amd64" --rate 120 --duration 30s --rxpk 1 --endpoint-latency 200ms
	# The ARM CPU figures above move by ±40 % with the host; the guest
	# instructions of the same load do not (docs/performance.md, --icount):
	# once per rev, when the plugin can be built.
	if plugin=$(scripts/qemu-icount/build.sh 2>/dev/null | tail -1) && [ -f "$plugin" ]; then
		for rev in "$before" "$after"; do
			name="icount-arm-10-$rev"
			echo "== $name $(date +%T)" >>"$out/summary"
			"$out/load" --agent "$out/$rev-arm" --qemu qemu-arm --qemu-cpu cortex-a7 --icount "$plugin" \
				--rate 10 --rxpk 1 --duration 40s >"$out/$name.txt" 2>&1 || true
			grep -E '^(guest|endpoint)' "$out/$name.txt" >>"$out/summary"
		done
	fi
fi
cat "$out/summary"
