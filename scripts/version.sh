#!/usr/bin/env bash
# Prints the one version string of a build: what "edgeflow version" says
# and every package's Version. From $1 when given (e.g. a release tag),
# else "git describe --tags --always --dirty --match 'v[0-9]*'", else
# "0.0.0+unknown". Made a valid Debian and opkg version: it starts with a
# digit and holds no "-" (dpkg reads the last one as the Debian revision)
# and no "_"; a build between tags sorts after the tag before it, and an
# untagged one before any release:
#   v1.2.3                  -> 1.2.3
#   v1.2.3-4-gabc1234-dirty -> 1.2.3+4.gabc1234.dirty
#   abc1234                 -> 0.0.0+gabc1234
set -euo pipefail
cd "$(dirname "$0")/.."

v="${1:-}"
if [ -z "$v" ]; then
	v="$(git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null || echo unknown)"
fi
v="${v#v}"
if [ "$v" = unknown ]; then
	v="0.0.0+unknown"
elif ! [[ "$v" =~ ^[0-9]+\.[0-9] ]]; then
	v="0.0.0+g${v//-/.}"
else
	v="${v/-/+}" # the first "-" (commits since the tag) starts the local part
	v="${v//-/.}"
fi
echo "${v//_/.}"
