#!/usr/bin/env bash
# Installs everything FlowLens needs on a fresh Debian 12 machine, idempotently: apt packages,
# npm packages, Go modules, the PyPI packages of the SQL tests; mounts tracefs/bpffs when missing.
# Prints one line naming what is missing when it cannot go on.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

[ "$(uname -s)" = Linux ] || die "FlowLens runs on Linux only"
[ "$(id -u)" = 0 ] || die "run as root (the agent loads eBPF programs, and setup installs apt packages)"

APT_PACKAGES=(
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc g++ python3-dev
  clickhouse-server clickhouse-client
  nginx-light curl ca-certificates iproute2 nftables wrk bc
  chromium
  redis-server memcached postgresql mariadb-server mosquitto mosquitto-clients rabbitmq-server nats-server
  dnsmasq dnsutils netcat-openbsd maven mariadb-client python3-grpcio
  iputils-ping
  xz-utils binutils
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with your package manager"
  say "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed (is a Debian mirror reachable?)"
  # Tests run their own server instances on their own ports: keep packages from starting system daemons.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
  rm -f /usr/sbin/policy-rc.d
fi
# Debian's package may start a system ClickHouse on the default ports; FlowLens runs its own on 18123.

command -v node >/dev/null || die "node is not installed (Node.js 20 or newer is needed)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: 20 or newer is needed"
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || die "go is not installed (Go 1.26.5 or newer is needed for grafana-plugin-sdk-go)"
export PATH=$PATH:/usr/local/go/bin

# npm: reinstall when the lock file changed since the last install
stamp=node_modules/.flowlens-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci failed (is the npm registry reachable?)"
  echo "$want" > "$stamp"
fi

say "downloading Go modules"
go mod download || die "go mod download failed (is the Go module proxy reachable?)"

# PyPI: chdb embeds a modern ClickHouse for the SQL compatibility tests; real protocol clients for e2e
stamp_py=build/.flowlens-pip-sha
want_py=$(cat test/sql/requirements.txt test/e2e/requirements.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp_py" ] || [ "$(cat "$stamp_py")" != "$want_py" ]; then
  say "installing PyPI packages (test/sql/requirements.txt, test/e2e/requirements.txt)"
  python3 -m pip install -q -r test/sql/requirements.txt -r test/e2e/requirements.txt || die "pip install failed (is PyPI reachable?)"
  mkdir -p build && echo "$want_py" > "$stamp_py"
fi

# Maven Central: the Kafka broker the Kafka tests run (no Debian package exists)
if [ ! -d build/kafka/libs ] || [ test/e2e/kafka/pom.xml -nt build/kafka/libs ]; then
  say "fetching the Kafka broker from Maven Central"
  command -v java >/dev/null || die "java is not installed (the Kafka broker of the tests needs Java 17)"
  mvn -q -f test/e2e/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$here/build/kafka/libs" >/dev/null || die "fetching the Kafka broker with Maven failed (is Maven Central reachable?)"
fi

# Go module proxy: toxiproxy, the latency-adding proxy hop of the namespace test bed (test/e2e/netbed)
TOXIPROXY_VERSION=v2.12.0
if [ ! -x build/tools/toxiproxy-server ] || [ "$(cat build/tools/.toxiproxy-version 2>/dev/null)" != "$TOXIPROXY_VERSION" ]; then
  say "building toxiproxy $TOXIPROXY_VERSION from the Go module proxy"
  mkdir -p build/tools
  GOBIN="$here/build/tools/.gobin" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" || die "go install toxiproxy failed (is the Go module proxy reachable?)"
  mv build/tools/.gobin/server build/tools/toxiproxy-server && echo "$TOXIPROXY_VERSION" > build/tools/.toxiproxy-version
fi

# Kernel: BTF is required; tracefs/bpffs are mounted when missing (the tracer itself needs neither).
[ -f /sys/kernel/btf/vmlinux ] || die "the kernel has no BTF (/sys/kernel/btf/vmlinux): use a kernel built with CONFIG_DEBUG_INFO_BTF=y"
if ! mountpoint -q /sys/kernel/tracing 2>/dev/null; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || say "note: cannot mount tracefs at /sys/kernel/tracing (not needed by the current tracer)"
fi
if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || say "note: cannot mount bpffs at /sys/fs/bpf (not needed by the current tracer)"
fi
say "ok"
