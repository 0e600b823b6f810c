#!/usr/bin/env bash
# Builds a real kube-apiserver (k8s.io/kubernetes v1.37.2) and a one-member etcd (go.etcd.io/etcd/server
# v3.7.0, its embed package) from the Go module proxy into build/kube/, for record-kube.js to record what a
# real API server answers the agent. Not part of the test command: the recordings are committed
# (test/agent/tags/fixtures/*.recorded.json); this takes ~15 min of CPU on 2 cores.
# Usage: test/agent/tags/build-kube.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
OUT="$ROOT/build/kube"
K8S=v1.37.2
STAGING=v0.37.2
mkdir -p "$OUT/apiserver-src" "$OUT/etcd-src"

# k8s.io/kubernetes points its staging modules at ./staging with replace directives, which a dependent
# module does not inherit: require each of them at the matching published version instead.
cd "$OUT/apiserver-src"
go mod download -json "k8s.io/kubernetes@$K8S" >/dev/null
MODFILE="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S.mod"
{
  printf 'module flowlens-kube-recorder\n\ngo 1.26.0\n\nrequire (\n\tk8s.io/kubernetes %s\n' "$K8S"
  # the sample-* modules are not published at every release and kube-apiserver does not import them
  grep '=> ./staging' "$MODFILE" | awk -v v="$STAGING" '$1 !~ /sample-/ {print "\t" $1 " " v}'
  printf ')\n'
} >go.mod
cat >main.go <<'EOF'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
EOF
go mod tidy
go build -o "$OUT/kube-apiserver" .

cd "$OUT/etcd-src"
printf 'module flowlens-etcd-recorder\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v3.7.0\n' >go.mod
cat >main.go <<'EOF'
// One etcd member on loopback (client 127.0.0.1:23790), data in the directory given.
package main

import (
	"log"
	"net/url"
	"os"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	cfg := embed.NewConfig()
	cfg.Dir = os.Args[1]
	client := url.URL{Scheme: "http", Host: "127.0.0.1:23790"}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:23800"}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = "default=http://127.0.0.1:23800"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatal(err)
	}
	<-e.Server.ReadyNotify()
	log.Print("etcd ready")
	log.Fatal(<-e.Err())
}
EOF
go mod tidy
go build -o "$OUT/etcd" .
echo "built $OUT/kube-apiserver $OUT/etcd"
