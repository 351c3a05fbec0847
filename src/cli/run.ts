/**
 * `run`: prepare, then hand the process over to the resident supervisor,
 * which starts the app and stays its parent (PID 1 duties).
 */
import { handOver, pendingSignals } from "../../ffi/handover.ts";
import { log } from "../log.ts";
import { appCommand } from "./command_line.ts";
import { prepare, type Prepared } from "./start.ts";

/** Signals that stop the start while the app does not exist yet. */
const STOPPING = { SIGTERM: 15, SIGINT: 2, SIGQUIT: 3 } as const;

function stopSignal(): keyof typeof STOPPING | undefined {
  return pendingSignals().find((s): s is keyof typeof STOPPING =>
    s in STOPPING
  );
}

/** Runs the app; returns only on failure (the exit code). */
export async function runCommand(
  words: string[],
  env: Record<string, string>,
): Promise<number> {
  const argv = appCommand(words, env.CLOUDTASER_ORIGINAL_CMD);
  const abort = new AbortController();
  const poll = setInterval(() => {
    if (stopSignal()) abort.abort(new Error("stopped by a signal"));
  }, 25);
  let p: Prepared;
  try {
    p = await prepare(env, argv, abort.signal);
  } catch (e) {
    const sig = stopSignal();
    if (sig) return stopped(sig);
    throw e;
  } finally {
    clearInterval(poll);
  }
  const sig = stopSignal();
  if (sig) {
    p.region.wipe();
    return stopped(sig);
  }
  log().info("starting {command}", {
    command: argv[0],
    delivery: p.delivery,
    secrets: p.region.count,
  });
  try {
    // Same pid, Deno heap gone; signals from now on reach the app.
    handOver({
      regionFd: p.region.fd,
      delivery: p.delivery,
      argv,
      env: p.childEnv,
    });
  } catch (e) {
    p.region.wipe();
    throw e;
  }
}

function stopped(sig: keyof typeof STOPPING): number {
  log().warn("{signal} during start-up: the app was not started", {
    signal: sig,
  });
  return 128 + STOPPING[sig];
}
