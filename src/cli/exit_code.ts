/**
 * The exit code of an error that stops the start, by its type (README "Exit
 * status"); the codes are ffi/constants.ts `EXIT`, shared with the
 * supervisor.
 */
import { EXIT } from "../../ffi/constants.ts";
import { SyscallError } from "../../ffi/mod.ts";
import { ConfigError } from "../config/parse.ts";
import { ChildEnvError } from "../delivery/child_env.ts";
import { ProtectionMissingError } from "../protect/errors.ts";
import { RegionError } from "../region/errors.ts";
import { VaultError } from "../vault/mod.ts";
import { CommandLineError } from "./command_line.ts";
import {
  CommandNotExecutableError,
  CommandNotFoundError,
} from "./resolve_app.ts";
import { StartError } from "./start.ts";

/** Bad usage or configuration: the user can fix it by changing a setting. */
function isUsage(e: unknown): boolean {
  return e instanceof ConfigError || e instanceof CommandLineError ||
    e instanceof ChildEnvError ||
    (e instanceof VaultError && e.kind === "config");
}

/** The exit code for an error raised before the app runs. */
export function exitCodeOf(e: unknown): number {
  if (isUsage(e)) return EXIT.USAGE;
  if (e instanceof ProtectionMissingError) return EXIT.PROTECTION_MISSING;
  if (e instanceof CommandNotFoundError) return EXIT.NOT_FOUND;
  if (e instanceof CommandNotExecutableError) return EXIT.NOT_EXECUTABLE;
  return EXIT.FAILED;
}

/**
 * Whether the error is one the wrapper raises on purpose, whose message
 * stands alone; anything else is logged as unexpected.
 */
export function isExpected(e: unknown): boolean {
  return isUsage(e) || e instanceof ProtectionMissingError ||
    e instanceof CommandNotFoundError ||
    e instanceof CommandNotExecutableError || e instanceof RegionError ||
    e instanceof StartError || e instanceof VaultError ||
    e instanceof SyscallError;
}
