/**
 * What the design (DESIGN.md, issue 7) says about each cell of the attack
 * matrix, and what the closed product's page
 * (`cloudtaser-memory-protection.txt`) claims for the same vector. The test
 * fails a cell the design says is blocked when a marker comes out; the
 * report prints both beside the measurement.
 */
import type { Cell, Target, VectorId } from "./table.ts";

/** `blocked`: a recovered marker fails the test. `expected`: a known
 * recovery, documented, not a failure. `open`: the design says nothing. */
export type Verdict = "blocked" | "expected" | "open";

/** What the design says for one cell, and why. */
export function designSays(c: Cell): { verdict: Verdict; why: string } {
  if (c.vector === "ptrace_inject") return injection(c);
  const window = startUpWindow(c);
  if (window) return window;
  const refreshing = duringRefresh(c);
  if (refreshing) return refreshing;
  const issue11 = afterIssue11(c);
  if (issue11) return issue11;
  const enforced = c.enforcer;
  const appSide = c.target !== "wrapper";
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
  if (c.target !== "app") {
    return c.mode === "env"
      ? {
        verdict: "expected",
        why: "env delivery: a program the app starts gets the secrets in " +
          "its envp",
      }
      : {
        verdict: "blocked",
        why: "interposer delivery follows the app's execs: a glibc program " +
          "gets a region of its own, a static one is refused (EPERM)",
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

/**
 * Root's ptrace makes the target run syscalls of root's choosing: the
 * target copies its own secretmem (through its own page tables, which
 * memfd_secret keeps) into a pipe. Nothing a process does refuses root's
 * attach; only an LSM does (the enforcer, or Yama's ptrace_scope 3).
 */
function injection(c: Cell): { verdict: Verdict; why: string } {
  return c.enforcer
    ? {
      verdict: "blocked",
      why: "the enforcer refuses the attach (LSM ptrace_access_check) or " +
        "kills the attacker at PTRACE_SEIZE before it runs another " +
        "instruction (tracepoint tier)",
    }
    : {
      verdict: "expected",
      why: "without an LSM nothing refuses root's ptrace: non-dumpable " +
        "does not, memfd_secret keeps the pages from other processes' " +
        "reads, not from syscalls the owner is made to run",
    };
}

/**
 * The start-up window (issue 11, holes 1-3): the Deno wrapper frozen before
 * its hand-over, and the unregistered controls. Undefined for the others.
 */
function startUpWindow(
  c: Cell,
): { verdict: Verdict; why: string } | undefined {
  if (c.target === "control") {
    return {
      verdict: "expected",
      why: "positive control: an unregistered process holding what the " +
        "vector looks for; it must come out, with or without the enforcer",
    };
  }
  if (c.target !== "starting_registered" && c.target !== "starting_fetched") {
    return undefined;
  }
  if (c.vector === "stop") {
    return c.enforcer
      ? {
        verdict: "blocked",
        why: "registered before anything secret exists: a stop signal from " +
          "outside the tree is refused (LSM) or its sender killed and the " +
          "stop undone (tracepoint tier)",
      }
      : {
        verdict: "open",
        why: "a freeze reveals nothing by itself; it stretches the window",
      };
  }
  if (c.vector === "getfd") {
    return {
      verdict: "blocked",
      why: "no region fd outlives the few syscalls that map it; the " +
        "hand-over's copy exists only inside ct_hand_over, signals blocked",
    };
  }
  if (c.vector === "tokens") {
    return {
      verdict: "blocked",
      why: c.target === "starting_registered"
        ? "no token exists yet at registration"
        : "when the reads are reported the login token is only in its " +
          "memfd_secret region (fd closed), its revocation on the wire; " +
          "the request's copy was wiped right after its write",
    };
  }
  if (c.enforcer) {
    return {
      verdict: "blocked",
      why: "the wrapper registered before its first secret byte: every " +
        "read of its memory is refused (LSM) or killed (tracepoint tier)",
    };
  }
  return c.target === "starting_registered"
    ? {
      verdict: "blocked",
      why: "nothing secret exists yet: no region, no credential file read, " +
        "no token",
    }
    : {
      verdict: "blocked",
      why: "the requests ran in the shim's OpenSSL client, whose freed " +
        "buffers are zeroed; each answer was zeroed once decoded into the " +
        "region, the client key's PEM once OpenSSL parsed it, and OpenSSL " +
        "dropped the key itself once the reads were in (before, with " +
        "Deno's fetch, freed rustls/hyper buffers held copies)",
    };
}

/**
 * A wrapper in the middle of a refresh (issue 14, docs/refresh.md
 * "Protecting the refresh path"), held by a server that never answers:
 * the refresh process (the wrapper's own Deno program) and the supervisor
 * that started it. Undefined for the other targets. (ptrace_inject is
 * {@link injection}'s for every target.)
 */
function duringRefresh(
  c: Cell,
): { verdict: Verdict; why: string } | undefined {
  if (c.target === "refresh_supervisor") {
    return c.vector === "tokens"
      ? {
        verdict: "blocked",
        why: "the supervisor holds the token only in its token region " +
          "(memfd_secret, read-only, fd closed); it never speaks to Vault, " +
          "so no header, buffer or copy of it exists in its memory",
      }
      : {
        verdict: "blocked",
        why: "the supervisor is the same C process during a refresh: its " +
          "regions memfd_secret with their fds closed, the refresh's copies " +
          "and out files handed to the child, nothing secret in its heap " +
          "or environ",
      };
  }
  if (c.target !== "refresh") return undefined;
  if (c.enforcer) {
    return {
      verdict: "blocked",
      why: "the refresh process is in the supervisor's group from its fork " +
        "(sched_process_fork) and registers before it maps anything: every " +
        "read, ptrace and pidfd_getfd is refused (LSM) or its caller " +
        "killed (tracepoint tier)",
    };
  }
  switch (c.vector) {
    case "environ":
      return {
        verdict: "blocked",
        why: "its environment is PATH (and the layout's DENO_DIR under the " +
          "launcher) only: the configuration comes on fd 7",
      };
    case "scan":
    case "vm_readv":
    case "ptrace":
      return {
        verdict: "expected",
        why: "its TLS handshake needs the client key: OpenSSL holds it " +
          "parsed (the private scalar in a heap BIGNUM) from the pair's " +
          "load until the client is freed, so root reading its memory " +
          "while it waits for the server finds it; only the enforcer " +
          "refuses those reads. The token and the key's PEM are not there: " +
          "the token is read from its region only after the handshake and " +
          "wiped right after the write, the PEM bytes once OpenSSL parsed " +
          "them, and every buffer OpenSSL frees is zeroed",
      };
    case "getfd":
    case "reopen":
      return {
        verdict: "blocked",
        why: "it maps its token and app copies and closes their fds first " +
          "thing; what stays open (the out files, empty until it writes " +
          "them at the end, the config memfd, the report pipe) holds no " +
          "secret while it waits for the server",
      };
    case "map_files":
      return {
        verdict: "blocked",
        why: "its only memory-backed file mappings are the memfd_secret " +
          "copies, whose map_files entries give ENXIO",
      };
    default:
      return {
        verdict: "blocked",
        why: "its requests run in the shim's OpenSSL client (c/shim/http.c): " +
          "the token is read from its region only after the handshake, " +
          "joined with the request and wiped right after the write; the " +
          "client key's bytes are wiped once OpenSSL parsed them, and " +
          "every buffer OpenSSL frees is zeroed. Held in its handshake, it " +
          "holds no token or key copy outside its regions",
      };
  }
}

/**
 * The vectors and targets issue 11 added: the programs the app starts, the
 * resident mapping, and cores that RLIMIT_CORE 1/1 does or does not stop.
 * Undefined for the others.
 */
function afterIssue11(
  c: Cell,
): { verdict: Verdict; why: string } | undefined {
  const descendant = c.target !== "wrapper" && c.target !== "app";
  if (c.vector === "layout") {
    return c.target === "wrapper"
      ? {
        verdict: "blocked",
        why: "the supervisor maps the region read-only between PROT_NONE " +
          "pages and refuses to start the app otherwise",
      }
      : {
        verdict: "open",
        why: "the interposer's copy is writable (bash writes into " +
          "environment strings); guard pages on both sides",
      };
  }
  if (c.vector === "core_own") {
    return {
      verdict: "blocked",
      why: "the app starts with RLIMIT_CORE 1/1: no file core, and the " +
        "kernel aborts a pipe core at 1",
    };
  }
  if (c.vector === "core_lowered" || c.vector === "core_socket") {
    if (c.target === "wrapper") {
      return { verdict: "blocked", why: "the supervisor is not dumpable" };
    }
    if (c.enforcer) {
      return {
        verdict: "blocked",
        why: "core-dumping signals from outside the tree are refused " +
          "(LSM) or the app is killed before it dumps (tracepoint tier)",
      };
    }
    return c.mode === "interposer"
      ? {
        verdict: "blocked",
        why: "interposer delivery: secrets only in secretmem, never dumped",
      }
      : {
        verdict: "expected",
        why: c.vector === "core_socket"
          ? "a socket core_pattern ignores RLIMIT_CORE; the env app's " +
            "stack holds its environ"
          : "root without CAP_SYS_RESOURCE may still lower the soft limit " +
            "to 0, where a pipe core_pattern dumps the env app's stack",
      };
  }
  if (descendant && c.enforcer) {
    return {
      verdict: "blocked",
      why: "the enforcer guards the app's descendants (registration " +
        "follows fork)",
    };
  }
  if (descendant && c.mode === "interposer" && c.vector === "mem") {
    return {
      verdict: "blocked",
      why: "the grandchild's region is memfd_secret: /proc/<pid>/mem EIO",
    };
  }
  return undefined;
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
    case "ptrace_inject":
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
    case "core_lowered":
    case "core_socket":
    case "core_own":
      return '"Core dump analysis: Yes (secret pages excluded from dump)"';
    case "layout":
      return "no claim (the protection score counts guard_pages and " +
        "buffer_canary)";
    case "stop":
      return "no claim";
    case "tokens":
      return '"token_protected": the token lives only in protected memory';
  }
}
