#!/usr/bin/env bash
# CI for the agent's web page: installs Debian's chromium when missing, then
# runs the browser test (agent/api/web/browser_test), which builds the
# agent, drives the page in headless Chromium through chromedp and checks
# what a technician would see. Safe to run again.
#
#   scripts/ci-browser.sh                                  # run the test
#   SCREENSHOTS=docs/screenshots scripts/ci-browser.sh     # and refresh the screenshots
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

if ! command -v chromium >/dev/null; then
	echo "--- installing chromium"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
chromium --version

echo "--- web page unit tests (size, no other host, handler)"
go test -count=1 ./agent/api/web/

echo "--- browser test"
if [ -n "${SCREENSHOTS:-}" ]; then
	mkdir -p "$SCREENSHOTS"
	export EDGEFLOW_SCREENSHOTS="$(cd "$SCREENSHOTS" && pwd)"
fi
go test -count=1 -v ./agent/api/web/browser_test/
