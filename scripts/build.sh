#!/usr/bin/env bash
# Builds every part: eBPF objects + skeletons, the native addon, the agent (tsc), the schema
# artifacts, the Go backend and the Grafana plugin bundle. Incremental where the tools are.
# Usage: scripts/build.sh [agent|all]   (agent = bpf + native + agent only)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PATH=$PATH:/usr/local/go/bin
what=${1:-all}
step() { echo "build: $*"; }

step "bpf"
make -s -C bpf
step "native addon"
gyp="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp=node_modules/node-gyp/bin/node-gyp.js
if [ ! -f native/build/Release/flowlens_native.node ] || [ -n "$(find native/src bpf build/bpf -newer native/build/Release/flowlens_native.node -type f | head -1)" ]; then
  (cd native && node "$gyp" rebuild --nodedir=/usr --loglevel=error >/dev/null)
fi
step "agent"
go build -o build/bin/flowlens-goprobe ./cmd/flowlens-goprobe
npx --no-install tsc -p tsconfig.agent.json
node build/agent/scripts/gen-schema.js
if [ "$what" = agent ]; then exit 0; fi
step "go backend"
scripts/build-backend.sh
step "grafana plugin bundle"
npm run -s build >/dev/null
step "plugin archive"
go run ./pkg/cmd/pluginarchive pack # build/<id>-<version>.zip, what Grafana installs
step "ok"
