/**
 * The refresh state: what the supervisor keeps for the next refresh process
 * as an opaque string (docs/refresh.md "Interfaces"), and the times it
 * computes. No secret is ever in it: paths, env names, KV versions, TTLs and
 * times only (it travels on a command line).
 */
import { REFRESH } from "../../ffi/constants.ts";
import { ConfigError } from "../config/parse.ts";

/** One planned read as the last refresh (or the start) left it. */
export interface ReadState {
  /** The path as planned (secret_plan.ts). */
  p: string;
  /** KV version of its mount. */
  kv: 1 | 2;
  /** KV v2: the version the app has. */
  ver?: number;
  /** A pinned version (`#VERSION`, `?version=N`) never changes. */
  pin?: boolean;
  /**
   * Env names it wrote, in order (the app region's records), kept only
   * for a path that imports every key: a mapped path's names are its
   * plan's targets (the state must stay under the supervisor's limit).
   */
  keys?: string[];
  /**
   * A dynamic secret (read once per start, never on the KV interval): its
   * lease, whose id is the token region's `LEASE_<index>`. `d`: the
   * duration granted at the read; `r`: renewable; `at`: renewal due.
   */
  lease?: { d: number; r: boolean; at: number };
}

/** Everything a refresh process needs besides the regions and the config. */
export interface RefreshState {
  v: 1;
  /** Token renewal due (epoch ms); 0: never (a token without TTL). */
  renewAt: number;
  /** TTL the last login granted: a renewal granting less nears max TTL. */
  loginTtlMs: number;
  /** The next token step is a fresh login, not a renewal. */
  relogin: boolean;
  /** KV re-read due (epoch ms); 0: no interval. */
  kvAt: number;
  intervalMs: number;
  /** Back-off after failures; 0 after a success. */
  backoffMs: number;
  reads: ReadState[];
}

/**
 * The state as a string, refused when it is longer than the supervisor
 * keeps (`REFRESH.STATE_MAX`, ct/refresh.h): a ConfigError naming what
 * makes it long.
 */
export function stateWithinLimit(s: RefreshState): string {
  const text = encodeState(s);
  if (text.length > REFRESH.STATE_MAX) {
    throw new ConfigError([
      `the refresh state for ${s.reads.length} path(s) is ${text.length} ` +
      `bytes, more than the supervisor keeps (${REFRESH.STATE_MAX}): ` +
      "fewer CLOUDTASER_SECRET_PATHS entries, or map keys with " +
      "CLOUDTASER_ENV_MAP instead of importing every key",
    ]);
  }
  return text;
}

/** Back-off bounds of docs/refresh.md ("Server down"). */
export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = REFRESH.RETRY_MAX_MS;

/** `x` scaled by a random factor in [1 - f, 1 + f]. */
export function jitter(x: number, f = 0.1, rand = Math.random): number {
  return Math.round(x * (1 + f * (2 * rand() - 1)));
}

/**
 * When to renew a token (or lease) granted `ttlMs` now: at 2/3 of it, ±10 %
 * jitter so pods that logged in together do not renew together. 0: never.
 */
export function renewAt(now: number, ttlMs: number, rand = Math.random) {
  return ttlMs > 0 ? now + jitter((ttlMs * 2) / 3, 0.1, rand) : 0;
}

/** The next back-off after a failure: 1 s, doubling, at most 60 s. */
export function nextBackoff(prev: number): number {
  return prev <= 0 ? BACKOFF_MIN_MS : Math.min(prev * 2, BACKOFF_MAX_MS);
}

/** Milliseconds from `now` to the earliest due time; 0: nothing is due. */
export function dueMs(s: RefreshState, now: number): number {
  const times = [s.renewAt, s.kvAt, ...s.reads.map((r) => r.lease?.at ?? 0)]
    .filter((t) => t > 0);
  if (times.length === 0) return 0;
  return Math.max(1, Math.min(...times) - now);
}

/** The state as the opaque base64url string the supervisor keeps. */
export function encodeState(s: RefreshState): string {
  const bytes = new TextEncoder().encode(JSON.stringify(s));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Reads a state string; throws a TypeError naming what is wrong. */
export function decodeState(text: string): RefreshState {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new TypeError("--state is not base64url");
  }
  const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const s = JSON.parse(
    new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))),
  );
  if (s?.v !== 1 || !Array.isArray(s.reads)) {
    throw new TypeError("--state is not a version 1 refresh state");
  }
  return s as RefreshState;
}
