#!/bin/sh
# Compares two commits on issue 14's delivery budgets, their binaries
# alternated in one run (a shared machine drifts; figures from different
# runs do not compare). Usage:
#   cmd/edgeflow-load/compare.sh BEFORE_REV AFTER_REV [OUT]
# Each rev is built for amd64 and armv7 (run under qemu-arm-static as a
# cortex-a7); $OUT/summary collects the lines that matter, with the ARM
# builds' guest instructions per uplink when scripts/qemu-icount builds.
set -eu
before=$1 after=$2 out=${3:-/tmp/edgeflow-compare}
mkdir -p "$out"
go build -o "$out/load" ./cmd/edgeflow-load
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
	grep -E '^(CPU|throughput|endpoint|RssAnon|disk writes)' "$out/$name.txt" >>"$out/summary"
}
for i in 1 2 3; do
	for rev in "$before" "$after"; do
		run "amd64-10-$rev-$i" --agent "$out/$rev-amd64" --rate 10 --rxpk 1 --duration 60s
	done
done
for i in 1 2 3; do
	for rev in "$before" "$after"; do
		run "arm-10-$rev-$i" --agent "$out/$rev-arm" --qemu qemu-arm-static --qemu-cpu cortex-a7 --rate 10 --rxpk 1 --duration 40s
	done
done
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
cat "$out/summary"
