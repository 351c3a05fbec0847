/**
 * Retry rules of Vault's own Go client (api/client.go `DefaultRetryPolicy`
 * on top of go-retryablehttp): connection errors, 412 (eventual consistency
 * on performance standbys), 429 and every 5xx except 501 are retried.
 * Certificate errors are not: they will not heal.
 */

/** Whether a response with this status is worth another try. */
export function isRetryableStatus(status: number): boolean {
  return status === 412 || status === 429 ||
    (status >= 500 && status !== 501);
}

/** First backoff; doubled each retry, capped at {@link MAX_BACKOFF_MS}. */
export const MIN_BACKOFF_MS = 250;
/** Backoff cap, before `Retry-After`. */
export const MAX_BACKOFF_MS = 4000;

/**
 * Delay before retry number `attempt` (0 for the first retry): exponential
 * with "equal jitter" (half fixed, half random), or the server's
 * `Retry-After` (seconds or an HTTP date) when it asks for longer.
 */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | null,
  random: () => number = Math.random,
): number {
  const exp = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt);
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.max(jittered, parseRetryAfterMs(retryAfter) ?? 0);
}

/** `Retry-After` in milliseconds, or undefined when absent or malformed. */
export function parseRetryAfterMs(v: string | null): number | undefined {
  if (v === null) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
