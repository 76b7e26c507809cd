#!/bin/sh
# Runs every budget load of docs/performance.md, one after the other (they
# share two cores), and keeps each report in $OUT. Usage:
#   cmd/edgeflow-load/budgets.sh amd64|arm [OUT]
# arm runs the GOARCH=arm GOARM=7 build under qemu-arm-static.
set -eu
arch=${1:-amd64}
out=${2:-/tmp/edgeflow-budgets}
mkdir -p "$out"
go build -o "$out/edgeflow-load" ./cmd/edgeflow-load
if [ "$arch" = arm ]; then
	GOARCH=arm GOARM=7 CGO_ENABLED=0 go build -trimpath -o "$out/edgeflow-arm" ./cmd/edgeflow
	agent="--agent $out/edgeflow-arm --qemu qemu-arm-static"
	backlog=200000 maxsize=256MiB # 32-bit builds cap the buffer at 256 MiB
else
	CGO_ENABLED=0 go build -trimpath -o "$out/edgeflow-amd64" ./cmd/edgeflow
	agent="--agent $out/edgeflow-amd64"
	backlog=1000000 maxsize=1GiB
fi
load="$out/edgeflow-load $agent"
run() { name=$1; shift; echo "== $name: edgeflow-load $*" | tee "$out/$arch-$name.txt"; $load "$@" >>"$out/$arch-$name.txt" 2>&1 || true; cat "$out/$arch-$name.txt"; }
# The reference load: 20,000 uplinks, 2 rxpk per datagram, 64 in flight,
# three times (the machine is shared), then on two Ps for comparison.
run reference --uplinks 20000 --rxpk 2 --window 64
run reference-2 --uplinks 20000 --rxpk 2 --window 64
run reference-3 --uplinks 20000 --rxpk 2 --window 64
run reference-gomaxprocs2 --uplinks 20000 --rxpk 2 --window 64 --gomaxprocs 2
# An endpoint that answers in 200 ms: at least 100 uplinks/s, none twice
# (requests in flight together, delivery.concurrency).
run latency-200ms --rate 120 --rxpk 1 --duration 30s --endpoint-latency 200ms --wait 60s
# PUSH_ACK latency when every uplink is committed before its ack.
run always-100 --persist always --rate 100 --rxpk 2 --duration 60s
# Disk writes at a steady 10 uplinks/s, then idle CPU.
run steady-10 --rate 10 --rxpk 1 --duration 120s --idle 60s
run steady-10-always --persist always --rate 10 --rxpk 1 --duration 120s
# An outage while the reference load arrives, then the drain.
run outage --uplinks 20000 --rxpk 2 --window 64 --outage 10s
# A prefilled backlog, drained at the default drainRate, then compaction.
run backlog --uplinks 0 --prefill $backlog --max-size $maxsize --settle 70s --wait 20m
