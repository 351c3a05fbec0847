/**
 * A timer for the start-up path, without `setTimeout`.
 *
 * Deno 2.9's global `setTimeout` and `setInterval` are Node's (they return a
 * `Timeout` object): the first call loads Deno's Node timers module, 5-8 ms
 * of CPU in every process that makes one (measured, docs/startup-profile.md).
 * `AbortSignal.timeout` runs on the runtime's own timers and costs 0.2-0.5
 * ms. Its timer cannot be cancelled and keeps the process alive until it
 * fires, so these timers wait in steps of at most {@link STEP_MS}: a
 * cancelled one is gone within a step.
 *
 * @module
 */

/** The longest single wait: how long a cancelled timer lingers at most. */
export const STEP_MS = 50;

/**
 * Calls `fn` once, `ms` milliseconds from now, unless the returned function
 * cancels it first.
 *
 * @example
 * ```ts
 * const cancel = after(2000, () => conn.close());
 * try { await work(); } finally { cancel(); }
 * ```
 */
export function after(ms: number, fn: () => void): () => void {
  const due = performance.now() + ms;
  let live = true;
  const arm = (wait: number) =>
    AbortSignal.timeout(Math.min(Math.max(Math.ceil(wait), 0), STEP_MS))
      .addEventListener("abort", step, { once: true });
  const step = () => {
    if (!live) return;
    const left = due - performance.now();
    if (left > 0) return arm(left);
    live = false;
    fn();
  };
  arm(ms); // never synchronous, as setTimeout(fn, 0) is not
  return () => {
    live = false;
  };
}
