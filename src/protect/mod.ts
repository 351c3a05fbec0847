/** Process hardening and the checks that prove it (smaps, environ). */
export { hardenProcess } from "./harden.ts";
export { ProtectionMissingError } from "./errors.ts";
export { parseSmaps, vmaAt } from "./smaps.ts";
export type { Vma } from "./smaps.ts";
