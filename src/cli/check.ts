/**
 * `check`: a dry run. Validates the configuration, reaches the server,
 * authenticates, reads every path and key (into a region that is wiped at
 * once), measures every protection and prints the score table. Never prints
 * a value.
 */
import type { Config } from "../config/parse.ts";
import { appCommand } from "./command_line.ts";
import { prepare, type Prepared } from "./start.ts";
import { revokeKept } from "../refresh/start_side.ts";
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
  if (p.refresh) await revokeKept(config, p.refresh.token);
  console.log(
    `config: ok\nvault: logged in (${p.fetch.authMethod}), ${p.fetch.paths.length} ` +
      `path(s), ${keys.length} secret(s) readable: ${keys.join(", ")}\n` +
      `requests: ${p.fetch.requests}\ndelivery: ${p.delivery}\n` +
      refreshLines(p) +
      formatScore(p.score),
  );
  if (!wiped.canaryIntact) {
    console.error("check: the region's canary was broken");
    return 1;
  }
  return 0;
}

/**
 * What will be renewed and refreshed after the start (docs/refresh.md
 * "What check and the score show"); names and times only.
 */
export function refreshLines(p: Prepared): string {
  if (!p.refresh) {
    return "refresh: none (the token is revoked before the app starts)\n";
  }
  const { state, policy } = p.refresh;
  const lease = p.fetch.tokenLease;
  const token = lease === undefined || lease.ttlMs === 0
    ? "token: no TTL, not renewed"
    : `token: TTL ${lease.ttlMs / 1000} s, ${
      lease.renewable
        ? "renewed at about 2/3 of it"
        : "not renewable: a new login at about 2/3 of it"
    }`;
  const rotating = state.reads.filter((r) => !r.pin && !r.lease).map((r) =>
    `${r.p} (KV v${r.kv})`
  );
  const leases = state.reads.filter((r) => r.lease).map((r) =>
    `lease: ${r.p}, ${r.lease!.d / 1000} s, ${
      r.lease!.r ? "renewed at about 2/3 of it" : "not renewable"
    }; new credentials when refused or near its max TTL (on change: ${policy.onChange})\n`
  ).join("");
  const kv = policy.intervalMs > 0
    ? `kv: every ${policy.intervalMs / 1000} s: ${
      rotating.join(", ") || "nothing (all pinned)"
    }; on change: ${policy.onChange}`
    : "kv: not re-read (CLOUDTASER_REFRESH_INTERVAL unset)";
  const exit = policy.revokeOnExit
    ? `at exit: token and leases revoked (within ${
      policy.revokeTimeoutMs / 1000
    } s)`
    : "at exit: nothing revoked (CLOUDTASER_REVOKE_ON_EXIT=false)";
  return `${token}\n${leases}${kv}\n${exit}\n`;
}
