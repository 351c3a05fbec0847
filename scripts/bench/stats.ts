/** Order statistics for the benchmark: medians and percentiles. */

/**
 * The `p`-th percentile (0-100) of `xs`, nearest-rank; `NaN` for no values.
 *
 * @example
 * ```ts
 * percentile([3, 1, 2], 50); // 2
 * ```
 */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

/** The median (for an even count, the mean of the middle two). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `x` with `digits` decimals, or "n/a" for NaN/undefined. */
export function fmt(x: number | undefined, digits = 1): string {
  return x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(digits);
}
