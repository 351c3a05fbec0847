/**
 * The wrapper's policy for what runs after it, written into the region's
 * header flags (`FLAGS` in src/region/format.ts): the supervisor
 * reads them for the app's core limit, the interposer for the programs the
 * app starts. Flags hold no secret.
 */
import { FLAGS } from "../region/format.ts";

/** The policy settings behind the flags. */
export interface RegionPolicy {
  /** `CLOUDTASER_CHILD_ENV_FALLBACK`. */
  childEnvFallback: boolean;
  /** `CLOUDTASER_APP_CORE_DUMPS`. */
  appCoreDumps: boolean;
  /** `CLOUDTASER_ALLOW_TRACER`. @default false */
  allowTracer?: boolean;
}

/**
 * The header flags for a policy.
 *
 * @example
 * ```ts
 * region.setFlags(regionFlags({ childEnvFallback: false, appCoreDumps: false }));
 * ```
 */
export function regionFlags(p: RegionPolicy): number {
  return (p.childEnvFallback ? FLAGS.CHILD_ENV_FALLBACK : 0) |
    (p.appCoreDumps ? FLAGS.APP_CORE_DUMPS : 0) |
    (p.allowTracer ? FLAGS.ALLOW_TRACER : 0);
}
