#!/usr/bin/env bash
# Builds the FlowLens datasource backend into the nested datasource plugin's dist folder, where
# Grafana looks for plugin.json's "executable": one static binary per platform, named as the
# plugin SDK's mage targets name them (gpx_<executable>_<os>_<arch>), and the Go build manifest
# the SDK's build writes beside them (go_plugin_build_manifest: sha256 and path of every Go source
# file, which Grafana's plugin validator compares with the source code) at the archive root.
# Usage: scripts/build-backend.sh [output-dir]   (default dist/datasource; the manifest goes to its parent)
# FLOWLENS_BACKEND_TARGETS limits the platforms (default: linux/amd64 linux/arm64 darwin/amd64 darwin/arm64).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/dist/datasource}
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go" ] || { echo "build-backend: go not found (install Go >= 1.26.5 or set GO=/path/to/go)" >&2; exit 1; }
targets=${FLOWLENS_BACKEND_TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
exe=gpx_flowlens-clickhouse-datasource
mkdir -p "$out"
cd "$here"
for target in $targets; do
  os=${target%/*} arch=${target#*/}
  bin=$out/${exe}_${os}_${arch}
  [ "$os" = windows ] && bin=$bin.exe
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$bin" ./pkg
  chmod 0755 "$bin" # the plugin validator wants exactly 0755
  echo "$bin"
done
# The manifest lists the Go files of the source tree as the repository holds them (git ls-files;
# every *.go file outside node_modules, build and .data when this is not a git checkout).
manifest=$(dirname "$out")/go_plugin_build_manifest
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$here" ls-files -z -- '*.go'
else
  find . \( -name node_modules -o -name build -o -name .data \) -prune -o -name '*.go' -type f -print0 | sed -z 's#^\./##'
fi | sort -z | xargs -0 sha256sum | awk '{ print $1 ":" $2 }' >"$manifest"
echo "$manifest"
