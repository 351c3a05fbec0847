/**
 * What the TypeScript side shares with the C side (the shim's hand-over,
 * the supervisor, the interposer): the one TypeScript home of each constant
 * that crosses the FFI or an exec. The C side has its own home for each
 * (c/include/); a test holds the two equal.
 */

/** How the app receives its secrets (the supervisor's `--delivery`). */
export const DELIVERIES = ["env", "interposer", "fd"] as const;

/** One of {@link DELIVERIES}. */
export type Delivery = typeof DELIVERIES[number];

/**
 * The signals captured until the hand-over and forwarded to the app after
 * it, with their numbers on Linux (x86_64, arm64).
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
 * The calls `ct_hand_over` names through its step out-parameter, by the C
 * enum's value (index 0: no step).
 */
export const HANDOVER_STEPS = [
  "",
  "handOver",
  "memfd_create",
  "write",
  "fcntl(F_ADD_SEALS)",
  "pthread_sigmask",
  "fcntl(F_SETFD)",
  "execveat",
  "handOver (a stopping signal came first)",
  "memfd_secret", // the region's copy: memfd_create for the fallback
  "ftruncate",
  "mmap",
] as const;

/** Exit codes before the app runs (README "Exit status"). */
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
