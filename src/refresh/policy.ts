/**
 * The refresh policy from the configuration table (docs/refresh.md): whether
 * anything resident needs the token after the start, and the supervisor's
 * `--on-change ...` arguments. Pure: no I/O.
 */
import type { Config } from "../config/parse.ts";
import { ConfigError } from "../config/parse.ts";
import type { Delivery } from "../../ffi/constants.ts";

/** The longest splay a default may give (docs/refresh.md). */
export const MAX_DEFAULT_SPLAY_MS = 60_000;

/** What the supervisor is told about refreshing. */
export interface RefreshPolicy {
  /** KV re-read interval in ms; 0: off. */
  intervalMs: number;
  /** `restart`, `none` or `signal:NAME`. */
  onChange: string;
  stopSignal: string;
  killTimeoutMs: number;
  refreshTimeoutMs: number;
  revokeOnExit: boolean;
  revokeTimeoutMs: number;
  /** Upper bound of the random delay before a change is applied. */
  splayMs: number;
}

/** Reads the policy from the table (validated there already). */
export function refreshPolicy(config: Config): RefreshPolicy {
  const intervalMs = config.isSet("CLOUDTASER_REFRESH_INTERVAL")
    ? config.durationMs("CLOUDTASER_REFRESH_INTERVAL")
    : 0;
  const splayMs = config.isSet("CLOUDTASER_CHANGE_SPLAY")
    ? config.durationMs("CLOUDTASER_CHANGE_SPLAY")
    : Math.min(Math.round(intervalMs / 10), MAX_DEFAULT_SPLAY_MS);
  return {
    intervalMs,
    onChange: config.enum("CLOUDTASER_ON_CHANGE"),
    stopSignal: config.enum("CLOUDTASER_STOP_SIGNAL"),
    killTimeoutMs: config.durationMs("CLOUDTASER_KILL_TIMEOUT"),
    refreshTimeoutMs: config.durationMs("CLOUDTASER_REFRESH_TIMEOUT"),
    revokeOnExit: config.bool("CLOUDTASER_REVOKE_ON_EXIT"),
    revokeTimeoutMs: config.durationMs("CLOUDTASER_REVOKE_TIMEOUT"),
    splayMs,
  };
}

/**
 * Whether the token must outlive the start (docs/refresh.md "Who holds
 * what"): a KV interval or a lease to renew. Without either the token is
 * revoked before the hand-over, as it always was, whatever
 * CLOUDTASER_REVOKE_ON_EXIT says (revoked earlier is revoked better).
 */
export function residentNeeded(policy: RefreshPolicy, leases: number): boolean {
  return policy.intervalMs > 0 || leases > 0;
}

/**
 * Refuses `signal:NAME` with env delivery: an environment cannot change in
 * place, so the signal would tell the app about values it never gets.
 */
export function checkOnChange(policy: RefreshPolicy, delivery: Delivery): void {
  if (delivery === "env" && policy.onChange.startsWith("signal:")) {
    throw new ConfigError([
      `CLOUDTASER_ON_CHANGE=${policy.onChange}: env delivery cannot change ` +
      "a value in place; use restart or none, or CLOUDTASER_DELIVERY=" +
      "interposer or fd",
    ]);
  }
}

/** The supervisor's policy arguments (docs/refresh.md "Hand-over"). */
export function policyArgs(p: RefreshPolicy): string[] {
  return [
    "--on-change",
    p.onChange,
    "--stop-signal",
    p.stopSignal,
    "--kill-timeout-ms",
    String(p.killTimeoutMs),
    "--refresh-timeout-ms",
    String(p.refreshTimeoutMs),
    "--revoke-on-exit",
    p.revokeOnExit ? "1" : "0",
    "--revoke-timeout-ms",
    String(p.revokeTimeoutMs),
  ];
}
