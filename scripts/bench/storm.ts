/**
 * Many wrappers started at the same instant against one OpenBao: each
 * launcher is spawned ahead of time and sleeps until a common CLOCK_REALTIME
 * instant, then execs the wrapper. Start time is measured from that instant;
 * everything still running at the deadline is killed and counts as failed.
 */
import {
  type Fixture,
  PREFIX,
  type SecretSet,
  wrapperArgv,
} from "./contestants.ts";
import { launchOnce } from "./launch.ts";
import { median, percentile } from "./stats.ts";

/** Result of {@linkcode benchStorm}. */
export interface StormResult {
  wrappers: number;
  set: string;
  ok: number;
  /** Start-up of the successful ones, ms from the common instant. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  deadlineMs: number;
  /** Failure reasons and how often each occurred. */
  failures: Record<string, number>;
  /** Requests the wrappers logged, median per start. */
  requestsPerStart: number;
}

/**
 * Starts `n` wrappers (env delivery) at once.
 *
 * @example
 * ```ts
 * const s = await benchStorm(fx, set, { n: 200, deadlineMs: 120000 });
 * console.log(`${s.ok}/${s.wrappers}, p99 ${s.p99Ms} ms`);
 * ```
 */
export async function benchStorm(
  fx: Fixture,
  set: SecretSet,
  opts: { n?: number; deadlineMs?: number } = {},
): Promise<StormResult> {
  const n = opts.n ?? 200;
  const deadlineMs = opts.deadlineMs ?? 120_000;
  const leadMs = 2000 + n * 10; // time to spawn every launcher first
  const at = BigInt(Date.now() + leadMs) * 1_000_000n;
  const env = {
    PATH: Deno.env.get("PATH") ?? "",
    ...(Deno.env.get("HOME") ? { HOME: Deno.env.get("HOME")! } : {}),
    ...(Deno.env.get("DENO_DIR")
      ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
      : {}),
    ...fx.bao.env({
      CLOUDTASER_SECRET_PATHS: set.apiPaths.join(","),
      CLOUDTASER_ENFORCER_SOCKET: fx.noEnforcer,
    }),
  };
  const runs = Array.from({ length: n }, (_, i) => {
    const stampFile = `${fx.dir}/storm-${i}`;
    return launchOnce({
      tools: fx.tools,
      argv: [...wrapperArgv(), fx.tools.app, stampFile, PREFIX],
      env,
      stampFile,
      at,
      timeoutMs: leadMs + deadlineMs,
    });
  });
  const results = await Promise.all(runs);
  const times: number[] = [];
  const requests: number[] = [];
  const failures: Record<string, number> = {};
  for (const r of results) {
    const ok = !r.timedOut && r.code === 0 && r.stamp?.count === set.count;
    if (ok) {
      times.push(r.startMs);
      const line = r.stderr.split("\n").find((l) =>
        l.includes("secrets fetched")
      );
      if (line) requests.push(JSON.parse(line).requests);
      continue;
    }
    let why = r.timedOut ? `not started within ${deadlineMs} ms` : "";
    if (!why) {
      const err = r.stderr.split("\n").filter((l) => l.includes('"error"'))
        .map((l) => {
          try {
            return String(JSON.parse(l).message);
          } catch {
            return l;
          }
        })[0];
      why = err
        ? err.replace(/\d+(\.\d+)?\s*ms/g, "N ms").slice(0, 160)
        : `exit ${r.code}`;
    }
    failures[why] = (failures[why] ?? 0) + 1;
  }
  return {
    wrappers: n,
    set: `${set.count}/${set.paths}`,
    ok: times.length,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: times.length ? Math.max(...times) : NaN,
    deadlineMs,
    failures,
    requestsPerStart: median(requests),
  };
}
