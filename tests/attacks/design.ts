/**
 * What the design (DESIGN.md, issue 7) says about each cell of the attack
 * matrix, and what the closed product's page
 * (`cloudtaser-memory-protection.txt`) claims for the same vector. The test
 * fails a cell the design says is blocked when a marker comes out; the
 * report prints both beside the measurement.
 */
import type { Cell, Target, VectorId } from "./matrix.ts";

/** `blocked`: a recovered marker fails the test. `expected`: a known
 * recovery, documented, not a failure. `open`: the design says nothing. */
export type Verdict = "blocked" | "expected" | "open";

/** What the design says for one cell, and why. */
export function designSays(c: Cell): { verdict: Verdict; why: string } {
  const enforced = c.enforcer;
  const appSide = c.target === "app" || c.target === "grandchild";
  if (c.target === "wrapper") {
    if (c.vector === "coredump_filter") {
      return { verdict: "open", why: "a write reveals nothing by itself" };
    }
    return {
      verdict: "blocked",
      why: "the resident wrapper is the C supervisor: no Deno heap, environ " +
        "secret-free, region memfd_secret with its fd closed, non-dumpable",
    };
  }
  if (enforced && appSide && c.vector !== "coredump_filter") {
    if (c.vector.startsWith("core_")) {
      return c.mode === "interposer"
        ? {
          verdict: "blocked",
          why: "interposer app: secrets only in its secretmem (no-dump)",
        }
        : {
          verdict: "blocked",
          why: "core-dumping signals from outside the tree are refused " +
            "(LSM) or the app is killed before it dumps (tracepoint tier)",
        };
    }
    return {
      verdict: "blocked",
      why: "the enforcer stops every read of the app's (and its " +
        "descendants') /proc entries, ptrace, process_vm_readv, pidfd_getfd",
    };
  }
  if (c.vector === "coredump_filter") {
    return { verdict: "open", why: "a write reveals nothing by itself" };
  }
  if (c.target === "grandchild") {
    return {
      verdict: "expected",
      why: "a program the app execs gets the secrets in its envp " +
        "(docs/interposer.md)",
    };
  }
  if (c.mode === "env") {
    if (c.vector === "getfd" || c.vector === "reopen") {
      return { verdict: "blocked", why: "env delivery passes no region fd" };
    }
    if (c.vector === "map_files") {
      return { verdict: "blocked", why: "no memory-backed file is mapped" };
    }
    return {
      verdict: "expected",
      why: "env delivery: the app's environ (its stack) holds its secrets; " +
        "only the enforcer guards it",
    };
  }
  return {
    verdict: "blocked",
    why: "interposer delivery: the secrets are only in the app's own " +
      "memfd_secret mapping, its fd closed, its environ secret-free",
  };
}

/** The closed product's claim for a vector, quoted briefly. */
export function claimFor(vector: VectorId, target: Target): string {
  const child = target !== "wrapper";
  switch (vector) {
    case "environ":
      return child
        ? "\"Reading child's /proc/<child>/environ: Delegated to eBPF " +
          "(kprobe on openat denies cross-process environ reads for all " +
          'monitored PIDs)"'
        : '"Reading wrapper\'s /proc/1/environ for secrets: Yes"';
    case "mem":
      return '"Root reading /proc/PID/mem: Yes (pages not in kernel direct ' +
        'map)"';
    case "scan":
      return child
        ? '"With interposer: Only one copy exists: memfd (safe)"; without: ' +
          '"C library copies value to heap [UNPROTECTED]"'
        : '"secrets enter only after exec, in Go heap" (the resident wrapper ' +
          "holds them in its heap)";
    case "vm_readv":
      return '"memfd_secret: All software memory access; Can Root Bypass? ' +
        'No"; eBPF denies process_vm_readv (design)';
    case "ptrace":
      return '"PR_SET_DUMPABLE(0): Prevents ptrace ATTACH from non-parent ' +
        'processes (defense in depth with eBPF)"; "A root attacker can still ' +
        'read mlocked pages via /proc/PID/mem or ptrace"';
    case "getfd":
    case "reopen":
    case "map_files":
      return "no claim";
    case "coredump_filter":
      return '"MADV_DONTDUMP: Can Root Bypass? Yes (coredump_filter write); ' +
        'eBPF Backup: Yes -- blocks /proc writes"';
    case "core_segv":
    case "core_pipe":
      return '"Core dump analysis: Yes (secret pages excluded from dump)"; ' +
        '"PR_SET_DUMPABLE(0) prevents core dumps entirely"';
    case "core_escalated":
      return '"Root can override PR_SET_DUMPABLE ... via ' +
        '/proc/PID/coredump_filter or by loading a kernel module"';
  }
}
