/** Secret memory and process hardening. */
export { SecretRegion } from "./region.ts";
export type { RegionBacking, RegionOptions, WipeReport } from "./region.ts";
export { RegionError } from "./errors.ts";
export { hardenProcess } from "./harden.ts";
export { parseSmaps, vmaAt } from "./smaps.ts";
export type { Vma } from "./smaps.ts";
