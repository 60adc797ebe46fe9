#!/usr/bin/env bash
# Builds the local control plane that envtest and the demo run: etcd, kube-apiserver and kubectl,
# from source through the Go module proxy, because no binary host is reachable from here
# (setup-envtest's download cannot work). The Kubernetes version follows the k8s.io/* client
# libraries in go.mod, so the API server is exactly the minor the operator is built against.
#
#   hack/build-control-plane.sh          builds what is missing into bin/k8s/<version>/ and bin/kubectl
#   hack/build-control-plane.sh --print  prints the directory envtest should use (KUBEBUILDER_ASSETS)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# k8s.io/api v0.X.Y belongs to Kubernetes v1.X.Y.
api_version=$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/api)
k8s_version="v1.${api_version#v0.}"
# The etcd release line that this Kubernetes minor is tested with (k8s.io/kubernetes go.mod).
etcd_version=v3.7.3

out="$root/bin/k8s/$k8s_version"
if [[ "${1:-}" == "--print" ]]; then
  echo "$out"
  exit 0
fi

have() { [[ -x "$1" ]]; }
if have "$out/etcd" && have "$out/kube-apiserver" && have "$out/kubectl" && have "$root/bin/kubectl"; then
  echo "control plane $k8s_version already built in ${out#$root/}"
  exit 0
fi

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0

# etcd: a tiny main of our own around etcdmain, since the etcd module ships no importable command.
if ! have "$out/etcd"; then
  echo "building etcd $etcd_version"
  mkdir -p "$work/etcd"
  cat >"$work/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work/etcd" &&
    go mod init local/etcd >/dev/null 2>&1 &&
    go get "go.etcd.io/etcd/server/v3@$etcd_version" >/dev/null 2>&1 &&
    go mod tidy >/dev/null 2>&1 &&
    go build -trimpath -o "$out/etcd" .)
fi

# kube-apiserver and kubectl from k8s.io/kubernetes. Its go.mod points every k8s.io/* staging module
# at ./staging, which does not exist in the module zip, so each is replaced by the same release
# from the proxy. The sample-* modules are left out: the proxy refuses them and nothing needs them.
if ! have "$out/kube-apiserver" || ! have "$out/kubectl"; then
  echo "building kube-apiserver and kubectl $k8s_version"
  mkdir -p "$work/k8s"
  cd "$work/k8s"
  go mod init local/k8s >/dev/null 2>&1
  go mod download -json "k8s.io/kubernetes@$k8s_version" >/dev/null
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$k8s_version.mod"
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile" | grep -v '^k8s.io/sample-')
  for m in $staging; do
    go mod edit -replace "$m=$m@$api_version"
  done
  go mod edit -require "k8s.io/kubernetes@$k8s_version"
  cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >/dev/null
  minor=${k8s_version#v1.}
  minor=${minor%%.*}
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitVersion=$k8s_version -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  go build -trimpath -ldflags "$ldflags" -o "$out/kubectl" k8s.io/kubernetes/cmd/kubectl
fi

ln -sf "k8s/$k8s_version/kubectl" "$root/bin/kubectl"
"$out/kube-apiserver" --version
echo "control plane $k8s_version built in ${out#$root/}"
