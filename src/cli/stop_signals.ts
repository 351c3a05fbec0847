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
  waitForSignal,
  wakeSignalWaiter,
} from "../../ffi/handover.ts";
import { log } from "../log.ts";

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
  let live = true;
  const tick = () => {
    keepSignalHandlers();
    const sig = stopSignal();
    if (sig) abort.abort(new Error(`stopped by ${sig}`));
  };
  tick();
  // Woken by each captured signal, never by a timer: a poll every 25 ms
  // cost 200 starts at once more CPU than the starts themselves (the
  // storm: 30 s instead of 12 s, measured).
  (async () => {
    while (live && !abort.signal.aborted) {
      await waitForSignal();
      if (live) tick();
    }
  })().catch((e) => {
    // The steps of the start still check stopSignal() themselves.
    log().warn("cannot wait for signals: {error}", {
      error: (e as Error).message,
    });
  });
  return {
    signal: abort.signal,
    close() {
      if (!live) return;
      live = false;
      wakeSignalWaiter();
    },
  };
}

/** Logs the stop and returns its exit code, 128+N. */
export function stopped(sig: StopSignal, what = "the app was not started") {
  log().warn("{signal} during start-up: {what}", { signal: sig, what });
  return 128 + NUMBERS[sig];
}
