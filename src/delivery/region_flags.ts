/**
 * The wrapper's policy for what runs after it, written into the region's
 * header flags (`FLAGS` in src/region/format.ts): the supervisor
 * reads them for the app's core limit, the interposer for the programs the
 * app starts. Flags hold no secret.
 */
import type { Config } from "../config/parse.ts";
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
  return policyFlags(p);
}

/**
 * The header flags the configuration asks for: the one place both the start
 * and a refresh (which writes a new region) read them from.
 */
export function configRegionFlags(config: Config): number {
  return policyFlags({
    childEnvFallback: config.bool("CLOUDTASER_CHILD_ENV_FALLBACK"),
    appCoreDumps: config.bool("CLOUDTASER_APP_CORE_DUMPS"),
    allowTracer: config.bool("CLOUDTASER_ALLOW_TRACER"),
  });
}

function policyFlags(p: RegionPolicy): number {
  return (p.childEnvFallback ? FLAGS.CHILD_ENV_FALLBACK : 0) |
    (p.appCoreDumps ? FLAGS.APP_CORE_DUMPS : 0) |
    (p.allowTracer ? FLAGS.ALLOW_TRACER : 0);
}
