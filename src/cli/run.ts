/**
 * `run`: prepare, then hand the process over to the resident supervisor,
 * which starts the app and stays its parent (PID 1 duties).
 */
import { handOver } from "../../ffi/handover.ts";
import type { Config } from "../config/parse.ts";
import { log } from "../log.ts";
import { appCommand } from "./command_line.ts";
import { abandon, prepare, type Prepared } from "./start.ts";
import { handOverRefresh } from "../refresh/start_side.ts";
import {
  keepSignalHandlers,
  stopped,
  STOPPING,
  stopSignal,
  watchStopSignals,
} from "./stop_signals.ts";

/**
 * Runs the app; returns only on failure (the exit code). `bare`: the
 * command's first word came without `--` (see resolveApp).
 */
export async function runCommand(
  words: string[],
  config: Config,
  bare = false,
): Promise<number> {
  const argv = appCommand(words, config.string("CLOUDTASER_ORIGINAL_CMD"));
  const watch = watchStopSignals();
  let p: Prepared;
  try {
    p = await prepare(config, argv, watch.signal, bare);
  } catch (e) {
    const sig = stopSignal();
    if (sig) return stopped(sig);
    throw e;
  } finally {
    watch.close();
  }
  const sig = stopSignal();
  if (sig) {
    await abandon(p);
    return stopped(sig);
  }
  log().info("starting {command}", {
    command: argv[0],
    delivery: p.delivery,
    secrets: p.region.count,
  });
  try {
    const refresh = p.refresh &&
      handOverRefresh(
        p.config,
        p.refresh.token,
        p.refresh.state,
        p.refresh.policy,
      );
    keepSignalHandlers();
    // Same pid, Deno heap gone; signals from now on reach the app. A
    // stopping signal that beats the hand-over's own last look cancels it.
    handOver({
      region: p.region,
      delivery: p.delivery,
      argv,
      env: p.childEnv,
      stopSignals: STOPPING,
      refresh,
    });
  } catch (e) {
    await abandon(p);
    const sig = stopSignal();
    if (sig) return stopped(sig);
    throw e;
  }
}
