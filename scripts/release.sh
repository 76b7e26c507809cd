#!/usr/bin/env bash
# Build every gateway target and package into dist/ (or $DIST):
#   binaries   edgeflow_linux_{amd64,arm64,armv5,armv6,armv7,mips_softfloat,mipsle_softfloat}
#   .deb       edgeflow_<ver>_{amd64,arm64,armhf}.deb          (systemd)
#   .ipk       edgeflow_<ver>_{mips_24kc,mipsel_24kc,aarch64_generic}.ipk (OpenWrt procd)
#   SHA256SUMS
# Pure Go (CGO_ENABLED=0), stripped, -trimpath; version from $VERSION or
# "git describe --tags --always --dirty". Packages are written by
# scripts/pkgbuild (Go only: no Docker, nfpm, dpkg-deb or opkg-build).
#
#   scripts/release.sh
#   VERSION=1.2.3 DIST=/tmp/out scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
DIST="${DIST:-dist}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

# Package versions must start with a digit and hold no "-" (dpkg reads the
# last one as the Debian revision): v1.2.3-4-gabc-dirty -> 1.2.3+4+gabc+dirty;
# an untagged commit (abc1234, abc1234-dirty) -> 0.0.0+gabc1234(+dirty), so
# that any tagged release sorts after it.
pkgver="${VERSION#v}"
pkgver="${pkgver//-/+}"
pkgver="${pkgver//_/.}"
if ! [[ "$pkgver" =~ ^[0-9]+\.[0-9] ]]; then
	pkgver="0.0.0+g$pkgver"
fi

rm -rf "$DIST"
mkdir -p "$DIST"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ldflags="-s -w -X main.version=$VERSION"

# name GOARCH GOARM GOMIPS
targets=(
	"amd64            amd64  -  -"
	"arm64            arm64  -  -"
	"armv5            arm    5  -"
	"armv6            arm    6  -"
	"armv7            arm    7  -"
	"mips_softfloat   mips   -  softfloat"
	"mipsle_softfloat mipsle -  softfloat"
)

echo "--- edgeflow $VERSION (packages $pkgver)"
for t in "${targets[@]}"; do
	read -r name arch arm mips <<<"$t"
	env GOOS=linux GOARCH="$arch" \
		GOARM="$([ "$arm" = - ] || echo "$arm")" \
		GOMIPS="$([ "$mips" = - ] || echo "$mips")" \
		go build -trimpath -ldflags "$ldflags" -o "$DIST/edgeflow_linux_$name" ./cmd/edgeflow
	echo "built $DIST/edgeflow_linux_$name"
done

# The default configuration comes from the code itself, so the package's
# conffile is always in step with it: a host build prints and checks it.
go build -trimpath -ldflags "$ldflags" -o "$work/edgeflow" ./cmd/edgeflow
"$work/edgeflow" config init >"$work/edgeflow.yaml"
"$work/edgeflow" config validate --config "$work/edgeflow.yaml" >/dev/null
go build -o "$work/pkgbuild" ./scripts/pkgbuild

pkg() { # format arch binary
	"$work/pkgbuild" -format "$1" -arch "$2" -version "$pkgver" -binary "$DIST/edgeflow_linux_$3" \
		-config "$work/edgeflow.yaml" -files scripts/packaging -out "$DIST/edgeflow_${pkgver}_$2.$1"
}
pkg deb amd64 amd64
pkg deb arm64 arm64
pkg deb armhf armv6 # Raspberry Pi OS armhf is ARMv6 (Pi Zero/1): GOARM=7 would not run there
pkg ipk mips_24kc mips_softfloat
pkg ipk mipsel_24kc mipsle_softfloat
pkg ipk aarch64_generic arm64

(cd "$DIST" && sha256sum edgeflow_* >SHA256SUMS)

echo "--- sizes (bytes)"
(cd "$DIST" && for f in edgeflow_*; do printf '%10d  %s\n' "$(stat -c %s "$f")" "$f"; done)
