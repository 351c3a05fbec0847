/**
 * The start side of refresh (docs/refresh.md "Hand-over"): what the wrapper
 * hands the supervisor when something resident needs the token, and the
 * revocation of a kept token when the start fails after all.
 */
import { layoutDenoDir } from "../cli/deno_dir.ts";
import type { Config } from "../config/parse.ts";
import { log } from "../log.ts";
import type { FetchReport } from "../vault/fetch_secrets.ts";
import type { TokenStore } from "../vault/token_store.ts";
import { runRevoke } from "./revoke.ts";
import { policyArgs, type RefreshPolicy } from "./policy.ts";
import { configEntries } from "./region_fds.ts";
import {
  dueMs,
  type RefreshState,
  renewAt,
  stateWithinLimit,
} from "./state.ts";

/** The state the first refresh starts from. */
export function initialState(
  fetch: FetchReport,
  policy: RefreshPolicy,
  now: number,
): RefreshState {
  const ttl = fetch.tokenLease?.ttlMs ?? 0;
  return {
    v: 1,
    renewAt: renewAt(now, ttl),
    loginTtlMs: ttl,
    relogin: fetch.tokenLease !== undefined && !fetch.tokenLease.renewable,
    kvAt: policy.intervalMs > 0 ? now + policy.intervalMs : 0,
    intervalMs: policy.intervalMs,
    backoffMs: 0,
    reads: fetch.reads.map((r) => ({
      p: r.path,
      kv: r.kv,
      ...(r.version !== undefined ? { ver: r.version } : {}),
      ...(r.pinned ? { pin: true } : {}),
      ...(r.importAll ? { keys: r.keys } : {}),
      ...(r.lease
        ? {
          lease: {
            d: r.lease.durationMs,
            r: r.lease.renewable,
            at: renewAt(now, r.lease.durationMs),
          },
        }
        : {}),
    })),
  };
}

/**
 * The wrapper's own command line up to its first argument
 * (`/proc/self/cmdline` minus `Deno.args`): a compiled binary's path, or
 * `deno run ... main.ts`. A refresh runs it followed by `refresh ...`.
 */
export function programArgs(
  cmdline = Deno.readFileSync("/proc/self/cmdline"),
  args = Deno.args,
): string[] {
  const words = new TextDecoder().decode(cmdline).split("\0");
  if (words.at(-1) === "") words.pop();
  const head = words.length - args.length;
  if (head < 1 || args.some((a, i) => words[head + i] !== a)) {
    throw new Error(
      "cannot tell the wrapper's program from its arguments in " +
        "/proc/self/cmdline",
    );
  }
  return words.slice(0, head);
}

/** What `handOver` gets for refresh (ffi/handover.ts `refresh`). */
export function handOverRefresh(
  config: Config,
  token: TokenStore,
  state: RefreshState,
  policy: RefreshPolicy,
) {
  const region = token.region!;
  return {
    token: {
      address: region.address,
      size: region.size,
      backing: region.backing,
    },
    config: configEntries(config.env),
    programArgs: programArgs(),
    args: [
      "--state",
      stateWithinLimit(state),
      "--due-ms",
      String(dueMs(state, Date.now())),
      ...policyArgs(policy),
      ...denoDirArgs(layoutDenoDir()),
    ],
  };
}

/** `--deno-dir DIR` under the launcher: the refresh process's DENO_DIR. */
export function denoDirArgs(dir: string | undefined): string[] {
  return dir === undefined ? [] : ["--deno-dir", dir];
}

/**
 * Revokes a token kept for refresh, and the leases beside it, when the
 * start stops after all or `check` is done (a credential left valid is one
 * left behind), then wipes it.
 */
export async function revokeKept(
  config: Config,
  token: TokenStore,
): Promise<void> {
  const region = token.region;
  try {
    if (!region) return;
    const r = await runRevoke(config, {
      get: (k) => region.value(k),
      keys: () => region.keys(),
    });
    if (!r.ok) {
      log("vault").warn(
        "the token or a lease stays valid until its TTL: {why}",
        {
          why: r.message,
        },
      );
    }
  } finally {
    token.wipe();
  }
}
