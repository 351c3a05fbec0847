/**
 * Typed bindings to `c/shim/handover.c`: capturing signals during start-up
 * and handing the process over to the resident C supervisor
 * (`c/supervisor/supervisor.c` draws the sequence).
 */
import { nativeCall, poolCall } from "./call.ts";
import { nativePath } from "./load.ts";
import {
  CAPTURED_SIGNALS,
  type CapturedSignal,
  DELIVERIES,
  type Delivery,
  SHIM_STEPS,
  SIGNAL_NUMBERS,
} from "./constants.ts";
import { check, SyscallError } from "./syscall_error.ts";

export { CAPTURED_SIGNALS, type CapturedSignal, type Delivery };

/** The file in `build/` that {@link handOver} executes. */
export const SUPERVISOR_FILE = "cloudtaser-supervisor";

function maskOf(signals: readonly CapturedSignal[]): number {
  return signals.reduce((m, s) => m | (1 << SIGNAL_NUMBERS[s]), 0);
}

function signalsIn(mask: number): CapturedSignal[] {
  return CAPTURED_SIGNALS.filter((s) =>
    (mask & (1 << SIGNAL_NUMBERS[s])) !== 0
  );
}

let claimed = false;

/**
 * Installs handlers for {@link CAPTURED_SIGNALS} that only record the signal
 * (a bit and a byte in a pipe), so none is lost, kills the wrapper or opens
 * a debugger before the app exists. Call it first thing; calling it again
 * does nothing.
 *
 * The runtime would replace them: the first listener anything registers
 * makes Deno's signal code install its own handlers (SIGTERM, SIGINT and
 * SIGHUP then exit the process, and `deno run` registers one for SIGUSR1
 * 500 ms after start that opens the V8 inspector on 127.0.0.1:9229). It
 * installs a handler once per signal, the first time it sees that signal.
 * So this registers a (no-op) listener for every captured signal now, which
 * makes the runtime install its handlers at once, then puts the recorders
 * back over them (c/shim/handover.c). Later registrations leave the
 * handlers alone; {@link foreignSignals} tells if anything replaced one.
 * Do not remove these listeners, and add no others for these signals.
 *
 * @example
 * ```ts
 * captureSignals();
 * // ... fetch secrets; poll pendingSignals() between steps
 * ```
 */
export function captureSignals(): void {
  check("sigaction", nativeCall("capture_signals"));
  if (claimed) return;
  claimed = true;
  for (const sig of CAPTURED_SIGNALS) Deno.addSignalListener(sig, () => {});
  check("sigaction", nativeCall("claim_signals"));
}

/**
 * The captured signals whose handler is no longer the recorder (empty
 * unless something replaced one since {@link captureSignals}).
 */
export function foreignSignals(): CapturedSignal[] {
  return signalsIn(check("sigaction", nativeCall("foreign_signals")));
}

/**
 * Puts the recorders back for every captured signal; returns the signals
 * whose handler had been replaced.
 */
export function reclaimSignals(): CapturedSignal[] {
  return signalsIn(check("sigaction", nativeCall("claim_signals")));
}

/**
 * The signals that arrived since {@link captureSignals}, in the order of
 * {@link CAPTURED_SIGNALS} (a set, not a count). The wrapper stops the start
 * when it holds SIGTERM, SIGINT or SIGQUIT.
 *
 * @example
 * ```ts
 * if (pendingSignals().some((s) => s === "SIGTERM" || s === "SIGINT")) {
 *   Deno.exit(143);
 * }
 * ```
 */
export function pendingSignals(): CapturedSignal[] {
  return signalsIn(nativeCall("pending_signals"));
}

/**
 * Resolves when a captured signal arrives (or {@link wakeSignalWaiter} is
 * called), with the signals captured so far. Waits on one of Deno's
 * blocking threads: no timer, no wake-up until then.
 */
export async function waitForSignal(): Promise<CapturedSignal[]> {
  const mask = await poolCall("wait_signals");
  return signalsIn(check("poll(signal eventfd)", mask));
}

/** Makes a {@link waitForSignal} in flight (or the next one) resolve. */
export function wakeSignalWaiter(): void {
  check("write(signal eventfd)", nativeCall("wake_signals"));
}

/** Options for {@link handOver}. */
export interface HandOverOptions {
  /**
   * The secret region. The hand-over copies it into a new fd right before
   * the exec (the supervisor maps that fd and closes it), so no fd to the
   * secrets exists before that instant.
   */
  region: {
    /** Address of offset 0 of the data pages. */
    address: bigint;
    /** Size of the data pages, a page multiple. */
    size: number;
    /** The copy's backing: the region's own. */
    backing: "memfd_secret" | "memfd_mlock";
  };
  /**
   * `env`: the supervisor adds every region record to the app's environment
   * and the app does not get the fd. `interposer` / `fd`: the app gets the
   * fd, which the hand-over names in `CLOUDTASER_SECRET_FD` (added to `env`).
   */
  delivery: Delivery;
  /** The app's command and arguments; `argv[0]` is searched in `PATH`. */
  argv: string[];
  /**
   * The supervisor's environment and the base of the app's (`KEY=VALUE`
   * entries from `buildChildEnv`): never a secret value.
   */
  env: string[];
  /**
   * Signals that cancel the hand-over when they were captured before it
   * blocks signals (then it throws a {@link SyscallError} `ECANCELED` and
   * the app never runs). Any other captured signal, and any that comes
   * after that instant, reaches the app. @default []
   */
  stopSignals?: readonly CapturedSignal[];
  /**
   * Present when something resident needs the token (docs/refresh.md
   * "Hand-over"): the supervisor gets `--token-fd` (a copy of `token` made
   * like the region's), `--config-fd`, `--program-fd` (`/proc/self/exe`),
   * `--program-args` and then `args`.
   */
  refresh?: {
    /** The token region (records VAULT_TOKEN, LEASE_<i>). */
    token: HandOverOptions["region"];
    /** `KEY=VALUE` configuration entries: never VAULT_TOKEN/BAO_TOKEN. */
    config: string[];
    /** The wrapper's command line up to its first argument. */
    programArgs: string[];
    /** `--state S --due-ms T --on-change ...` */
    args: string[];
  };
}

const enc = new TextEncoder();

function nulList(what: string, list: string[]): Uint8Array {
  for (const s of list) {
    if (s.includes("\0")) throw new TypeError(`${what} entry holds a NUL`);
  }
  return enc.encode(list.map((s) => s + "\0").join(""));
}

/**
 * Replaces this process with the resident supervisor, in the same pid:
 *
 * ```text
 * cloudtaser-supervisor --region-fd N --signal-fd M --delivery D -- ARGV...
 * ```
 *
 * with `env` as its environment; N is a copy of the region made with every
 * signal blocked right before the exec. The supervisor is read from
 * `build/cloudtaser-supervisor` (embedded in a compiled binary) and executed
 * from a sealed memfd. Signals captured by {@link captureSignals} before the
 * exec, and any that arrive during it, reach the app. Returns only by
 * throwing: a {@link SyscallError} naming the call, after which the wrapper
 * still runs and can wipe the region and exit.
 *
 * @example
 * ```ts
 * handOver({
 *   region,
 *   delivery: "env",
 *   argv: ["/usr/bin/env"],
 *   env: ["PATH=/usr/bin:/bin"],
 * });
 * ```
 */
export function handOver(opts: HandOverOptions): never {
  if (!(DELIVERIES as readonly string[]).includes(opts.delivery)) {
    throw new TypeError(`unknown delivery ${opts.delivery}`);
  }
  if (opts.argv.length === 0) throw new TypeError("handOver needs a command");
  const exe = Deno.readFileSync(nativePath(SUPERVISOR_FILE));
  const argv = nulList("argv", opts.argv);
  const env = nulList("env", opts.env);
  const step = new Int32Array(1);
  const memfd = opts.region.backing === "memfd_mlock";
  const rf = opts.refresh;
  if (rf && rf.programArgs.length === 0) {
    throw new TypeError("handOver: refresh needs the program's arguments");
  }
  const none = new Uint8Array(1);
  const config = rf ? nulList("config", rf.config) : none;
  const progArgs = rf ? nulList("programArgs", rf.programArgs) : none;
  const extra = rf ? nulList("refresh args", rf.args) : none;
  const ret = nativeCall(
    "hand_over",
    exe,
    exe.length,
    opts.region.address,
    opts.region.size,
    memfd ? 1 : 0,
    enc.encode(opts.delivery + "\0"),
    argv,
    argv.length,
    env,
    env.length,
    maskOf(opts.stopSignals ?? []),
    rf?.token.address ?? 0n,
    rf?.token.size ?? 0,
    rf?.token.backing === "memfd_mlock" ? 1 : 0,
    config,
    rf ? config.length : 0,
    progArgs,
    rf ? progArgs.length : 0,
    extra,
    rf ? extra.length : 0,
    new Uint8Array(step.buffer),
  );
  const call = SHIM_STEPS[step[0]] || "handOver";
  throw new SyscallError(
    call === "memfd_secret" && memfd ? "memfd_create" : call,
    ret < 0 ? -ret : 5,
  );
}
