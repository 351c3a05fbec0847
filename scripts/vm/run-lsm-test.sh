#!/usr/bin/env bash
# Proves the enforcer's BPF LSM tier in a VM: boots Debian's stock kernel
# (which allows BPF LSM, unlike the dev hosts) under qemu TCG with `bpf` in
# lsm=, from an initramfs holding busybox, the enforcer, the registration
# stand-in and the attack programs (all static), and runs scripts/vm/init.sh.
#
# Passes only on what the serial log shows: `bpf` in the guest's
# /sys/kernel/security/lsm, the enforcer in the LSM tier, EPERM for every
# attack on the protected process, its child and its second thread (reads,
# io_uring, tracing BPF, perf, signals, the pins), success of the same
# attacks on the unprotected control; protection that holds after a kill -9
# of the daemon, a restarted daemon that adopts the pins, and nothing left
# after --uninstall. (qemu exits 0 even when the guest panics, and an LSM
# list without bpf attaches "fine" and enforces nothing.)
#
# Environment:
#   CLOUDTASER_VM_CACHE   kernel cache (default /var/cache/cloudtaser-vm)
#   CLOUDTASER_VM_TIMEOUT seconds for the whole boot (default 300)
#   CLOUDTASER_VM_LOG     where to keep the serial log (default build/vm/serial.log)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${CLOUDTASER_VM_CACHE:-/var/cache/cloudtaser-vm}
TIMEOUT=${CLOUDTASER_VM_TIMEOUT:-300}
WORK=$ROOT/build/vm
LOG=${CLOUDTASER_VM_LOG:-$WORK/serial.log}
LSM="lockdown,capability,landlock,yama,bpf"

say() { printf 'vm-lsm: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for tool in qemu-system-x86_64 busybox cpio gzip dpkg-deb; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install qemu-system-x86 busybox-static cpio)"
done
busybox_bin=$(command -v busybox)
{ ldd "$busybox_bin" 2>&1 || true; } | grep -q "not a dynamic" ||
  die "busybox is not static (apt-get install busybox-static)"

# Debian's kernel, downloaded once and kept unpacked in the cache.
# The kernel package linux-image-amd64 points at, downloaded into $CACHE;
# prints its name.
download_kernel() {
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [[ -n $pkg ]] || return 1
  say "downloading $pkg into $CACHE"
  (cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>&1) || return 1
  echo "$pkg"
}

kernel_image() {
  local k
  k=$(ls "$CACHE"/root/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z $k ]]; then
    local pkg
    mkdir -p "$CACHE"
    # Stale package lists name a version the mirror no longer has: refresh
    # them once and ask again.
    pkg=$(download_kernel) ||
      { apt-get update -qq >/dev/null 2>&1 && pkg=$(download_kernel); } ||
      die "cannot download Debian's kernel (apt-cache depends linux-image-amd64, apt-get download)"
    dpkg-deb -x "$CACHE/$pkg"_*.deb "$CACHE/root"
    k=$(ls "$CACHE"/root/boot/vmlinuz-* | sort -V | tail -1)
  fi
  echo "$k"
}

build_initramfs() {
  local dir=$WORK/initramfs
  # The static builds (c/Makefile target `vm`), by directory under build/.
  local bins="enforcer/cloudtaser-enforcer enforcer/ct-register attacks/ct-target
    attacks/ct-attack attacks/ct-uring attacks/ct-signal attacks/ct-perf
    attacks/ct-bpfread bench/ct-bench_open"
  make -s -C c vm >&2
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,dev,proc,sys,tmp,run}
  cp "$busybox_bin" "$dir/bin/busybox"
  ln -s busybox "$dir/bin/sh"
  for x in $bins; do cp "$ROOT/build/$x-static" "$dir/bin/${x#*/}"; done
  cp scripts/vm/init.sh "$dir/init"
  chmod +x "$dir/init"
  (cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.gz"
}

mkdir -p "$WORK"
KERNEL=$(kernel_image)
build_initramfs
say "booting $(basename "$KERNEL") (tcg, lsm=$LSM), timeout ${TIMEOUT}s"
start=$(date +%s%N)
set +e
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 512 -smp 1 -nographic \
  -no-reboot -kernel "$KERNEL" -initrd "$WORK/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet lsm=$LSM secretmem.enable=1" </dev/null >"$LOG" 2>&1
qemu_rc=$?
set -e
ms=$((($(date +%s%N) - start) / 1000000))
elapsed=$((ms / 1000)).$((ms % 1000 / 100))
tr -d '\r' <"$LOG" >"$LOG.txt" && mv "$LOG.txt" "$LOG"
say "qemu exited $qemu_rc after ${elapsed}s; serial log: $LOG"

# ---- verdict, from the log alone ----
fail=0
check() { if eval "$2"; then say "ok   $1"; else say "FAIL $1"; fail=1; fi; }
lines() { grep -a "^$1" "$LOG" || true; }

check "the guest finished (CT-DONE)" 'grep -aq "^CT-DONE" "$LOG"'
check "no CT-ERROR" '! grep -aq "^CT-ERROR" "$LOG"'
check "bpf is an active LSM: $(lines CT-LSM-LIST: | cut -d" " -f2)" \
  'lines CT-LSM-LIST: | grep -Eq "[ ,]bpf(,|$)"'
check "the enforcer runs the LSM tier" \
  'lines CT-ENFORCER: | grep "\"event\":\"ready\"" | grep -q "\"lsm\":true,\"tier\":\"lsm\""'

# How many lines each role must have: 15 ct-attack kinds + 3 io_uring +
# busybox cat + dd; +2 tracing (tp_btf reader, perf) for the protected
# parent; 6 aimed at a thread id.
declare -A expected=([protected]=22 [protected-child]=20 [control]=20 [protected-thread]=6 [control-thread]=6)
# Our hooks return -EPERM; procfs turns a refused ptrace check on the
# /proc/<pid>/fd/N link into EACCES (proc_fd_access_allowed), so the fd
# reopens count as denied with EACCES too (the control shows it is our doing).
denied_re='"result":"EPERM"|"attack":"(task_)?fd_reopen".*"result":"EACCES"'
for role in protected protected-child protected-thread; do
  n=$(lines "CT-ATTACK $role " | wc -l)
  denied=$(lines "CT-ATTACK $role " | grep -Ec "$denied_re" || true)
  check "$role: $denied/${expected[$role]} attacks got EPERM" \
    "[[ $n -eq ${expected[$role]} && $denied -eq ${expected[$role]} ]]"
  lines "CT-ATTACK $role " | grep -Ev "$denied_re" | sed 's/^/vm-lsm:      /' >&2 || true
done
for role in control control-thread; do
  n=$(lines "CT-ATTACK $role " | wc -l)
  worked=$(lines "CT-ATTACK $role " | grep -c '"result":"ok"' || true)
  check "$role: $worked/${expected[$role]} attacks succeeded" \
    "[[ $n -eq ${expected[$role]} && $worked -eq ${expected[$role]} ]]"
  lines "CT-ATTACK $role " | grep -v '"result":"ok"' | sed 's/^/vm-lsm:      /' >&2 || true
done
leaked=$(lines "CT-ATTACK protected" | grep -c '"saw_secret":true' || true)
check "no attack on a protected process saw the secret" "[[ $leaked -eq 0 ]]"
check "control: a tp_btf program and a perf stack sample read the secret while nothing was protected" \
  '[[ $(lines "CT-ATTACK control-unprotected " | grep -c "\"saw_secret\":true") -eq 2 ]]'
check "while something is protected, tracing BPF is refused to every other process" \
  'lines "CT-TRACING control-while-protected " | grep -q "\"result\":\"EPERM\",\"errno\":1,\"step\":\"bpf_prog_load\""'
check "an allow-listed executable may still load it (and reads the unprotected control)" \
  'lines "CT-TRACING control-allowed " | grep -q "\"saw_secret\":true"'
# The start-up window: a pidfd_getfd loop from before the region existed
# until the target exited; registered first, every try refused.
race=$(lines "CT-RACE startup-protected ")
check "start-up window: registered before its memfd_secret, $(echo "$race" | sed -n 's/.*"attempts":\([0-9]*\),"eperm":\([0-9]*\).*"stolen":\([0-9]*\).*/\2\/\1 pidfd_getfd tries got EPERM, \3 stole an fd/p')" \
  'echo "$race" | grep -Eq "\"result\":\"EPERM\",\"attempts\":([1-9][0-9]*),\"eperm\":\1,\"ebadf\":0,\"other\":0,\"stolen\":0,\"stolen_secretmem\":0,\"saw_secret\":false,\"other_err\":\"\"" &&
   lines "CT-RACE-TARGET startup-protected " | grep -q "\"registered\":true" &&
   lines "CT-RACE-TARGET startup-protected " | grep -q "\"window_ms\""'
check "control: the same loop stole the unregistered target's region fd and read the secret" \
  'lines "CT-RACE startup-control " | grep "\"result\":\"ok\"" | grep -Eq "\"stolen_secretmem\":[1-9][0-9]*,\"saw_secret\":true" &&
   lines "CT-RACE-TARGET startup-control " | grep -q "\"window_ms\""'
lines "CT-RACE " | sed 's/^/vm-lsm:      /' >&2 || true
nsig=$(lines "CT-SIGNAL protected " | wc -l)
okstate=$(lines "CT-SIGNAL protected " | grep -c "state=S child=S$" || true)
refused=$(lines "CT-SIGNAL protected " | grep -Ec '"result":"EPERM"|"attack":"sigio:' || true)
check "stop and core signals to the protected process: $refused/$nsig refused, $okstate/$nsig left it running" \
  "[[ $nsig -eq 10 && $refused -eq 10 && $okstate -eq 10 ]]"
lines "CT-SIGNAL protected " | grep -v "state=S child=S$" | sed 's/^/vm-lsm:      /' >&2 || true
check "control: the same stop signals stopped it (4/4)" \
  '[[ $(lines "CT-SIGNAL control " | grep -c "state=T$") -eq 4 ]]'
check "control: SIGQUIT killed it (exit 131)" 'lines CT-CONTROL-QUIT: | grep -q ": 131$"'
check "the protected processes still read their own /proc and memory" \
  '[[ $(lines CT-SELFCHECK: | grep -c "\"self_check\":\"ok\"") -eq 2 ]]'
check "the enforcer reported denials as JSON lines" \
  'lines CT-DENIAL: | grep -q "\"action\":\"denied\""'
check "nobody else got a writable fd for its maps (>= 4) or any of its 13 links: $(lines CT-BPF: | cut -d" " -f2-)" \
  'lines CT-BPF: | grep -Eq "\"maps_opened\":0,\"maps_denied\":([4-9]|[1-9][0-9]),\"links_opened\":0,\"links_denied\":13}"'
check "the pinned maps cannot be opened read-write, the links not detached" \
  'lines CT-PINS: | grep "bpf_pinned" | grep -q "\"result\":\"EPERM\",\"opened\":13,\"denied\":3,\"detached\":0"'
for a in rm-pin mv-pins umount-bpffs; do
  check "$a: EPERM" "lines CT-PINS: | grep \"\\\"$a\\\"\" | grep -q EPERM"
done
check "kill -9 of the daemon: $(lines CT-AFTER-KILL | grep -c EPERM)/5 attacks still got EPERM, 16 pins stayed" \
  '[[ $(lines CT-AFTER-KILL | grep -c "\"result\":\"EPERM\"") -eq 5 ]] && lines CT-PINS-AFTER-KILL: | grep -q ": 16$"'
check "a restarted daemon adopted the pins and both registrations" \
  'lines CT-ADOPTED: | grep -q "\"adopted\":true,\"registrations\":2,"'
check "it registers new processes and protects them" \
  'lines CT-LATE: | grep -q "\"registered\":true" && lines CT-LATE-ATTACK | grep -q "\"result\":\"EPERM\""'
check "exits released the protected parent and child" 'lines CT-RELEASED: | grep -q .'
check "--uninstall removed the 16 pins and the daemon exited 0" \
  'lines CT-UNINSTALL: | grep -q "\"uninstalled\",\"removed\":16" && lines CT-ENFORCER-EXIT: | grep -q ": 0$"'
# The kernel frees an exited loader's objects after a grace period: the
# guest polls (bounded) and reports what is still there and who holds it.
check "after --uninstall, every BPF object was freed: $(lines CT-BPF-AFTER-SETTLED: | cut -d" " -f2-)" \
  'lines CT-BPF-AFTER-SETTLED: | grep -q . && ! lines CT-BPF-AFTER-LEFT: | grep -q .'
lines CT-BPF-AFTER-LEFT: | sed 's/^/vm-lsm:      /' >&2 || true
check "after --uninstall, no BPF object was left or refused, no pin" \
  'lines CT-BPF-AFTER: | grep -q "\"result\":\"ok\",\"maps_opened\":0,\"maps_denied\":0,\"links_opened\":0,\"links_denied\":0}" && lines CT-PINS-AFTER-UNINSTALL: | grep -q ": 0$"'
check "after --uninstall the formerly protected process is readable again" \
  'lines CT-AFTER-UNINSTALL | grep -q "\"saw_secret\":true"'
holder=$(lines CT-BPF-CONTROL-HOLDER: | awk '{print $2}')
check "control: a map really held by a process (pid ${holder:-?}) is reported as left, with its holder" \
  '[[ -n $holder ]] && lines CT-BPF-CONTROL-LEFT: | grep "\"name\":\"ct_hold\"" | grep -q "\"held_by\":\[$holder\]"'

# open() cost under TCG: only the ratio means anything
lines CT-BENCH | sed 's/^/vm-lsm: /' >&2 || true
boot=$(grep -aq "CT-KERNEL" "$LOG" && echo yes || echo no)
if ((fail)); then
  say "FAILED (guest reached init: $boot)"
  exit 1
fi
say "PASSED in ${elapsed}s: every attack got EPERM under BPF LSM, the control was readable"
