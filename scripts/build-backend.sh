#!/usr/bin/env bash
# Builds the FlowLens datasource backend (a static linux/amd64 binary) into the nested
# datasource plugin's dist folder, where Grafana looks for plugin.json's "executable".
# Usage: scripts/build-backend.sh [output-dir]   (default dist/datasource)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/dist/datasource}
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go" ] || { echo "build-backend: go not found (install Go >= 1.26.5 or set GO=/path/to/go)" >&2; exit 1; }
mkdir -p "$out"
bin=$out/gpx_flowlens-clickhouse-datasource_linux_amd64
cd "$here"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$go" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$bin" ./pkg
echo "$bin"
