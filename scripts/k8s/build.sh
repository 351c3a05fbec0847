#!/usr/bin/env bash
# Builds kube-apiserver and kubectl from the Go module proxy into a cache
# directory, once: a second run finds both binaries and returns at once.
#
# There is no prebuilt kube-apiserver within reach (only package registries),
# so a scratch module requires k8s.io/kubernetes and points each of its
# ./staging/... replacements at the published k8s.io/* module of the same
# release (v0.X.Y for v1.X.Y); the sample-* modules are not published and
# nothing we build needs them. Measured: 4.5 min on 2 quiet cores (12.4
# CPU-minutes), 2.35 GB peak memory, about 6 GB of disk while building
# (removed afterwards); kube-apiserver 119 MB and kubectl 62 MB stripped.
#
#   CLOUDTASER_K8S_CACHE  cache directory (default /var/cache/cloudtaser-k8s)
#   CLOUDTASER_K8S_VERSION  Kubernetes release (default 1.37.2)
# Prints the directory holding the binaries on stdout.
set -euo pipefail

version=${CLOUDTASER_K8S_VERSION:-1.37.2}
cache=${CLOUDTASER_K8S_CACHE:-/var/cache/cloudtaser-k8s}
out="$cache/v$version"
log() { printf 'k8s build: %s\n' "$*" >&2; }

have() { [[ -x "$out/kube-apiserver" && -x "$out/kubectl" ]]; }
if have; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || {
  log "go is not installed (scripts/setup.sh installs golang-go)"
  exit 1
}
mkdir -p "$cache"
# One build at a time: a second caller waits for the first and then finds
# the binaries.
exec 9>"$cache/.build.lock"
flock 9
if have; then
  echo "$out"
  exit 0
fi

# The build needs about 6 GB while it runs (module and build caches).
free_kb=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $4 }')
if ((free_kb < 8 * 1024 * 1024)); then
  log "only $((free_kb / 1024)) MB free in ${TMPDIR:-/tmp}: the build needs about 6 GB (set TMPDIR)"
  exit 1
fi

minor=${version#*.}
staging="v0.${minor}"
work=$(mktemp -d "${TMPDIR:-/tmp}/cloudtaser-k8s-build.XXXXXX")
cleanup() {
  # The module cache is read-only by design; go clean knows how to remove it.
  GOMODCACHE="$work/mod" go clean -modcache 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export GOMODCACHE="$work/mod" GOCACHE="$work/cache" GOFLAGS=-mod=mod GOTOOLCHAIN=local
export CGO_ENABLED=0

log "building kube-apiserver and kubectl v$version into $out (once; several minutes)"
start=$SECONDS
mkdir -p "$work/src"
cd "$work/src"
go mod init cloudtaser.local/k8sbuild >/dev/null 2>&1
go mod edit -require="k8s.io/kubernetes@v$version"
gomod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[[ -f "$gomod" ]] || {
  log "could not download k8s.io/kubernetes@v$version's go.mod"
  exit 1
}
# Every staging module the kubernetes go.mod replaces, except sample-*.
mapfile -t mods < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod" | grep -v '^k8s.io/sample-')
((${#mods[@]} > 10)) || {
  log "found only ${#mods[@]} staging modules in $gomod"
  exit 1
}
for m in "${mods[@]}"; do
  go mod edit -replace="$m=$m@$staging"
done
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
go mod tidy -e >/dev/null 2>&1 || true
go get "k8s.io/kubernetes/cmd/kube-apiserver@v$version" \
  "k8s.io/kubernetes/cmd/kubectl@v$version" >"$work/get.log" 2>&1 || {
  cat "$work/get.log" >&2
  exit 1
}

date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
done
mkdir -p "$work/bin"
# nice: the machine's other work (tests, other builds) keeps its share.
nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$work/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl >&2
"$work/bin/kube-apiserver" --version >&2
mkdir -p "$out.tmp"
mv "$work/bin/kube-apiserver" "$work/bin/kubectl" "$out.tmp/"
rm -rf "$out"
mv "$out.tmp" "$out"
log "built in $((SECONDS - start)) s"
echo "$out"
