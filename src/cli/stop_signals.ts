/**
 * Signals during start-up (README "Signals that arrive during start-up"):
 * every captured signal is recorded by the handlers src/boot.ts installs
 * (ffi/handover.ts); SIGTERM, SIGINT and SIGQUIT stop the start (exit 128+N,
 * the app never runs), the others reach the app once it runs.
 */
import {
  type CapturedSignal,
  foreignSignals,
  pendingSignals,
  reclaimSignals,
} from "../../ffi/handover.ts";
import { log } from "../log.ts";
import { every } from "../timers.ts";

/** Signals that stop the start while the app does not exist yet. */
export const STOPPING = ["SIGTERM", "SIGINT", "SIGQUIT"] as const;

/** One of {@link STOPPING}. */
export type StopSignal = typeof STOPPING[number];

const NUMBERS: Record<StopSignal, number> = {
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

/** The first stopping signal that has arrived, if any. */
export function stopSignal(): StopSignal | undefined {
  return pendingSignals().find((s): s is StopSignal =>
    (STOPPING as readonly CapturedSignal[]).includes(s)
  );
}

/**
 * Puts the signal recorders back if anything replaced them (the runtime
 * should not, see ffi/handover.ts; this is the check that it did not).
 */
export function keepSignalHandlers(): void {
  if (foreignSignals().length === 0) return;
  const replaced = reclaimSignals();
  if (replaced.length) {
    log().warn("the handlers of {signals} had been replaced; put back", {
      signals: replaced.join(","),
    });
  }
}

/**
 * Watches for a stopping signal while the start-up runs: `signal` aborts
 * when one arrives. Call `close()` when the start-up is over.
 */
export function watchStopSignals(): { signal: AbortSignal; close(): void } {
  const abort = new AbortController();
  const tick = () => {
    keepSignalHandlers();
    const sig = stopSignal();
    if (sig) abort.abort(new Error(`stopped by ${sig}`));
  };
  tick();
  return { signal: abort.signal, close: every(25, tick) };
}

/** Logs the stop and returns its exit code, 128+N. */
export function stopped(sig: StopSignal, what = "the app was not started") {
  log().warn("{signal} during start-up: {what}", { signal: sig, what });
  return 128 + NUMBERS[sig];
}
