/**
 * cloudtaser-wrapper: delivers Vault/OpenBao secrets to an application from
 * protected memory, as the container's PID 1.
 */
import { parseArgs } from "node:util";
import { settingsHelp } from "./config/help.ts";

export const VERSION = "0.1.0";

const USAGE = `cloudtaser-wrapper ${VERSION}

Usage:
  cloudtaser-wrapper [run] [--] CMD [ARGS...]   run CMD with its secrets
  cloudtaser-wrapper check                      dry run: config, login, paths, score
  cloudtaser-wrapper score [--json]             protection score on this node
  cloudtaser-wrapper install DIR                copy the wrapper into DIR
  cloudtaser-wrapper version

Configuration is read from the environment only:
`;

/** Entry point; returns the process exit code. */
export function main(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
    allowPositionals: true,
    strict: false,
  });
  if (values.help) {
    console.log(USAGE + settingsHelp());
    return 0;
  }
  if (values.version || positionals[0] === "version") {
    console.log(`cloudtaser-wrapper ${VERSION}`);
    return 0;
  }
  console.error(
    "cloudtaser-wrapper: nothing to run yet; see --help",
  );
  return 2;
}

if (import.meta.main) Deno.exit(main(Deno.args));
