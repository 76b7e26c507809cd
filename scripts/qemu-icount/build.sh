#!/usr/bin/env bash
# Builds libicount.so (the instruction-counting qemu plugin) next to this
# script and makes sure a qemu-arm that loads plugins is installed: the
# static qemu-arm-static cannot, the dynamic one of Debian's qemu-user can.
# Then: edgeflow-load --agent BIN-arm --qemu qemu-arm --qemu-cpu cortex-a7 \
#         --icount scripts/qemu-icount/libicount.so --rate 10 --rxpk 1 --duration 40s
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v qemu-arm >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-user gcc libc6-dev >/dev/null
fi
gcc -shared -fPIC -O2 -Wall -o libicount.so icount.c -lpthread
echo "$(pwd)/libicount.so"
