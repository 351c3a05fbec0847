/**
 * `check`: a dry run. Validates the configuration, reaches the server,
 * authenticates, reads every path and key (into a region that is wiped at
 * once), measures every protection and prints the score table. Never prints
 * a value.
 */
import type { Config } from "../config/parse.ts";
import { appCommand } from "./command_line.ts";
import { prepare, type Prepared } from "./start.ts";
import { formatScore } from "../score/score.ts";
import { stopped, stopSignal, watchStopSignals } from "./stop_signals.ts";

/** Runs the check; returns the exit code. */
export async function checkCommand(
  words: string[],
  config: Config,
): Promise<number> {
  // A command is optional for check: it only informs the delivery choice.
  const original = config.string("CLOUDTASER_ORIGINAL_CMD");
  let argv: string[] = ["/bin/true"];
  if (words.length > 0 || original) argv = appCommand(words, original);
  // SIGTERM, SIGINT and SIGQUIT stop a check as they stop a start.
  const watch = watchStopSignals();
  let p: Prepared;
  try {
    p = await prepare(config, argv, watch.signal);
  } catch (e) {
    const sig = stopSignal();
    if (sig) return stopped(sig, "the check was stopped");
    throw e;
  } finally {
    watch.close();
  }
  const keys = p.region.keys();
  const wiped = p.region.wipe();
  console.log(
    `config: ok\nvault: logged in (${p.fetch.authMethod}), ${p.fetch.paths.length} ` +
      `path(s), ${keys.length} secret(s) readable: ${keys.join(", ")}\n` +
      `requests: ${p.fetch.requests}\ndelivery: ${p.delivery}\n` +
      formatScore(p.score),
  );
  if (!wiped.canaryIntact) {
    console.error("check: the region's canary was broken");
    return 1;
  }
  return 0;
}
