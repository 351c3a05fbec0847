/**
 * What the TypeScript side shares with the C side (the shim, the
 * supervisor, the interposer, the enforcer): the one TypeScript home of each
 * constant that crosses the FFI or an exec. The C side has its own home for
 * each (`c/include/ct/*.h`; the region format is
 * `src/region/format.ts` against `c/sdk/cloudtaser.h`), and
 * tests/ffi/constants_test.ts holds the two equal against a program built
 * from the C headers (`build/constants_dump`).
 *
 * @module
 */

/**
 * How the app receives its secrets (the supervisor's `--delivery`;
 * C: `c/include/ct/delivery.h`).
 */
export const DELIVERIES = ["env", "interposer", "fd"] as const;

/** One of {@link DELIVERIES}. */
export type Delivery = typeof DELIVERIES[number];

/**
 * The signals captured until the hand-over and forwarded to the app after
 * it, with their numbers on Linux (x86_64, arm64; C: `c/include/ct/
 * signals.h`).
 */
export const SIGNAL_NUMBERS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGWINCH: 28,
} as const satisfies Partial<Record<Deno.Signal, number>>;

/** One of the captured and forwarded signals. */
export type CapturedSignal = keyof typeof SIGNAL_NUMBERS;

/** The captured signals, in the order the C side lists them. */
export const CAPTURED_SIGNALS = [
  "SIGTERM",
  "SIGINT",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
  "SIGCONT",
] as const satisfies readonly CapturedSignal[];

/**
 * The calls the shim names through a step out-parameter (`ct_hand_over`,
 * `ct_region_map`), indexed by the C enum's value (`c/include/ct/
 * shim_steps.h`; index 0: no step).
 */
export const SHIM_STEPS = [
  "",
  "handOver",
  "memfd_create",
  "write",
  "fcntl(F_ADD_SEALS)",
  "pthread_sigmask",
  "fcntl(F_SETFD)",
  "execveat",
  "handOver (a stopping signal came first)",
  "memfd_secret", // a region file: memfd_create for the memfd fallback
  "ftruncate",
  "mmap",
  "open(/proc/self/exe)", // the program refresh processes run
] as const;

/**
 * The V8 flags every start of the wrapper's Deno gets: c/launcher passes
 * them to `deno run`, scripts/compile.ts embeds them, the bench starts the
 * bundle with them (`c/include/ct/v8_flags.h` says why).
 */
export const V8_FLAGS = "--v8-flags=--min-semi-space-size=8";

/**
 * The shim's exports reached through `ct_call`, indexed by the C enum's
 * value (`c/include/ct/calls.h`; index 0: none). ffi/call.ts calls them.
 */
export const CALLS = [
  "",
  // shim.c
  "memfd_secret",
  "ftruncate",
  "close",
  "mmap",
  "munmap",
  "mlock",
  "madvise",
  "get_dumpable",
  "set_dumpable",
  "find_tracer",
  "get_core_limit",
  "set_core_limit",
  "explicit_bzero",
  "copy_in",
  "memeq",
  "page_size",
  "read_self",
  "access",
  "region_map",
  "read_file",
  // handover.c
  "capture_signals",
  "pending_signals",
  "claim_signals",
  "foreign_signals",
  "hand_over",
  "wake_signals",
  "wait_signals",
  // http.c
  "http_new",
  "http_ca",
  "http_client_pair",
  "http_target",
  "http_body_len",
  "http_body",
  "http_text",
  "http_cancel",
  "http_free",
  "http_exchange",
  "http_warm",
  "http_forget_key",
  // enforcer.c
  "enforcer_register",
  // sdk.c
  "fd_size",
] as const;

/** One of {@link CALLS}, without the empty index 0. */
export type Call = Exclude<(typeof CALLS)[number], "">;

/**
 * Why an exchange of the shim's HTTP client failed (`ct_http_exchange`
 * returns the negated index; C: `c/include/ct/http.h`; index 0: none).
 */
export const HTTP_FAILURES = [
  "",
  "resolve",
  "connect",
  "timeout",
  "cancelled",
  "tls_verify",
  "tls_name",
  "tls_refused",
  "tls",
  "closed",
  "protocol",
  "too_large",
  "memory",
  "setup",
] as const;

/** One of {@link HTTP_FAILURES}, without the empty index 0. */
export type HttpFailure = Exclude<(typeof HTTP_FAILURES)[number], "">;

/** `ct_http_new` flags and `ct_http_client_pair` results (ct/http.h). */
export const HTTP = {
  PLAIN: 1,
  SKIP_VERIFY: 2,
  /** `ct_http_client_pair` results, negated: index = what failed. */
  PAIR: ["", "cert", "key", "mismatch"],
} as const;

/**
 * Exit codes before the app runs (README "Exit status"; C:
 * `c/include/ct/exit_codes.h`).
 */
export const EXIT = {
  /** A required protection is missing (CLOUDTASER_REQUIRE_*, MIN_SCORE). */
  PROTECTION_MISSING: 3,
  /** Bad usage or configuration. */
  USAGE: 2,
  /** Any other failure before the app runs. */
  FAILED: 1,
  /** The supervisor failed before the app's exec (as env(1) does). */
  SUPERVISOR_START_FAILED: 125,
  /** The app's command exists but cannot be executed. */
  NOT_EXECUTABLE: 126,
  /** The app's command was not found. */
  NOT_FOUND: 127,
} as const;

/**
 * Linux errno values the wrapper names in messages, by value (C:
 * `c/include/ct/errname.h`, which the supervisor, the interposer and the
 * enforcer name them with).
 */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  40: "ELOOP",
  75: "EOVERFLOW",
  95: "EOPNOTSUPP",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  125: "ECANCELED",
};

/** `mmap`/`mprotect` protection bits. */
export const PROT = { NONE: 0, READ: 1, WRITE: 2 } as const;

/** `mmap` flags. */
export const MAP = {
  SHARED: 0x01,
  PRIVATE: 0x02,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  NORESERVE: 0x4000,
} as const;

/** `madvise` advice values. */
export const MADV = { DONTDUMP: 16, DODUMP: 17, WIPEONFORK: 18 } as const;

/** `O_CLOEXEC`, accepted by `memfd_secret`. */
export const O_CLOEXEC = 0o2000000;

/** `access(2)` modes. */
export const ACCESS = { X_OK: 1, W_OK: 2, R_OK: 4 } as const;

/** `RLIM_INFINITY`, as `getrlimit(2)` reports it on 64-bit Linux. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/**
 * The refresh protocol between the supervisor and a refresh process
 * (docs/refresh.md "Interfaces"): the fds a refresh process gets (by the
 * flag that names each), its mode word and operations, its whole
 * environment, the report's keys, and the supervisor's bounds on the report,
 * the state and a doubled retry delay. C: `c/include/ct/refresh.h`.
 */
export const REFRESH = {
  FDS: {
    "--token-fd": 3,
    "--app-fd": 4,
    "--out-token-fd": 5,
    "--out-app-fd": 6,
    "--config-fd": 7,
    "--report-fd": 8,
  },
  MODE: "refresh",
  OP_DUE: "due",
  OP_REVOKE: "revoke",
  PATH: "PATH=/usr/bin:/bin",
  REPORT_KEYS: [
    "status",
    "token",
    "app",
    "apply_in_ms",
    "due_ms",
    "state",
    "message",
  ],
  REPORT_MAX: 4096,
  STATE_MAX: 2048,
  RETRY_MAX_MS: 60000,
} as const;
