/** Secret memory and process hardening. */
export { SecretRegion } from "../region/secret_region.ts";
export type { RegionBacking, RegionOptions, WipeReport } from "../region/secret_region.ts";
export { RegionError } from "../region/errors.ts";
export { hardenProcess } from "./harden.ts";
export { parseSmaps, vmaAt } from "./smaps.ts";
export type { Vma } from "./smaps.ts";
