/**
 * The secret region: its byte layout (format.ts, the TypeScript truth beside
 * c/sdk/cloudtaser.h), the writer that fills it (secret_region.ts) and the
 * pure reader the SDK uses (parse_region.ts). docs/region-format.md.
 */
export * from "./format.ts";
export { SecretRegion } from "./secret_region.ts";
export type {
  RegionBacking,
  RegionOptions,
  WipeReport,
} from "./secret_region.ts";
export { RegionError } from "./errors.ts";
export * from "./parse_region.ts";
