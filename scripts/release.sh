#!/usr/bin/env bash
# Build every gateway target and package into dist/ (or $DIST):
#   binaries   edgeflow_linux_{amd64,arm64,armv5,armv6,armv7,mips_softfloat,mipsle_softfloat}
#   .deb       edgeflow_<ver>_{amd64,arm64,armhf}.deb          (systemd or sysv)
#   .ipk       edgeflow_<ver>_{mips_24kc,mipsel_24kc,aarch64_generic}.ipk (OpenWrt procd)
#   SHA256SUMS
# Pure Go (CGO_ENABLED=0), stripped, -trimpath. One version string for the
# binaries and the packages: scripts/version.sh of $VERSION or of "git
# describe". Packages are written by scripts/pkgbuild (Go only: no Docker,
# nfpm, dpkg-deb or opkg-build); $MAINTAINER overrides their Maintainer.
#
#   scripts/release.sh
#   VERSION=v1.2.3 DIST=/tmp/out scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
version="$(scripts/version.sh "${VERSION:-}")"
DIST="${DIST:-dist}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

rm -rf "$DIST"
mkdir -p "$DIST"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ldflags="-s -w -X main.version=$version"

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

echo "--- edgeflow $version"
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

# The .ipk's: the buffer on flash (/etc/edgeflow: OpenWrt's /var is RAM)
# and small (4MiB), with the reasons in its comments.
"$work/edgeflow" config init --openwrt >"$work/edgeflow-openwrt.yaml"
"$work/edgeflow" config validate --config "$work/edgeflow-openwrt.yaml" >/dev/null
go build -o "$work/pkgbuild" ./scripts/pkgbuild

pkg() { # format arch binary config
	"$work/pkgbuild" -format "$1" -arch "$2" -version "$version" -binary "$DIST/edgeflow_linux_$3" \
		${MAINTAINER:+-maintainer "$MAINTAINER"} \
		-config "$4" -files scripts/packaging -out "$DIST/edgeflow_${version}_$2.$1"
}
deb="$work/edgeflow.yaml" ipk="$work/edgeflow-openwrt.yaml"
pkg deb amd64 amd64 "$deb"
pkg deb arm64 arm64 "$deb"
pkg deb armhf armv6 "$deb" # Raspberry Pi OS armhf is ARMv6 (Pi Zero/1): GOARM=7 would not run there
pkg ipk mips_24kc mips_softfloat "$ipk"
pkg ipk mipsel_24kc mipsle_softfloat "$ipk"
pkg ipk aarch64_generic arm64 "$ipk"

(cd "$DIST" && sha256sum edgeflow_* >SHA256SUMS)

echo "--- sizes (bytes)"
(cd "$DIST" && for f in edgeflow_*; do printf '%10d  %s\n' "$(stat -c %s "$f")" "$f"; done)
