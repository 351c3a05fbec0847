/**
 * The command line: dispatches to run, check, score, install, version.
 * Loaded by src/main.ts after it has started what must start first.
 */
import { REFRESH } from "../../ffi/constants.ts";
import { type Config, ConfigError, parseConfig } from "../config/parse.ts";
import { exitCodeOf, isExpected } from "./exit_code.ts";
import { CommandLineError } from "./command_line.ts";
import { runCommand } from "./run.ts";
import { restoreAppDenoDir } from "./deno_dir.ts";
import { log, setupLogging } from "../log.ts";

export const VERSION = "0.1.0";

const USAGE =
  `cloudtaser-wrapper ${VERSION}: secrets from Vault/OpenBao, kept in protected memory

Usage:
  cloudtaser-wrapper [run] [--] CMD [ARGS...]  fetch the secrets, run CMD as its parent
  cloudtaser-wrapper check [-- CMD]            dry run: config, login, every path and key,
                                               every protection; prints the score table
  cloudtaser-wrapper score [--json]            the protection score on this node
  cloudtaser-wrapper install DIR               copy the wrapper into DIR (init container)
  cloudtaser-wrapper webhook --help            the Kubernetes admission webhook
  cloudtaser-wrapper version
  cloudtaser-wrapper help                      this text

With no CMD, CLOUDTASER_ORIGINAL_CMD is run (a JSON array, or words).
Exit status: the app's, or 128+N when it died of signal N; before the app
starts: 2 for bad usage or configuration, 3 when a protection demanded by
CLOUDTASER_REQUIRE_* or CLOUDTASER_MIN_SCORE is missing, 127/126 when CMD
is not found / not executable (checked before any secret is fetched),
128+N when SIGTERM, SIGINT or SIGQUIT stopped the start, 125 when the
supervisor failed before the app's exec, 1 otherwise.

Configuration is read from the environment only (BAO_* first where both exist):
`;

const SUBCOMMANDS = new Set([
  "run",
  "check",
  "score",
  "install",
  "version",
  "help",
  "webhook", // src/cli/webhook.ts, loaded only when used
]);

/** Splits argv into the subcommand, its options and the words after `--`. */
function splitArgs(args: string[]) {
  const dash = args.indexOf("--");
  const head = dash < 0 ? args : args.slice(0, dash);
  const tail = dash < 0 ? [] : args.slice(dash + 1);
  // The first word that is not an option is either a subcommand or the
  // start of the app's command (`cloudtaser-wrapper /bin/app -x`).
  const first = head.findIndex((a) => !a.startsWith("-"));
  let sub = "run";
  let opts = head;
  let words = tail;
  // The command's first word came without `--`: it may be a misspelled
  // subcommand (`runn`), which the "not found" message then says.
  let bare = false;
  if (first >= 0) {
    if (SUBCOMMANDS.has(head[first])) {
      sub = head[first];
      opts = [...head.slice(0, first), ...head.slice(first + 1)];
    } else {
      opts = head.slice(0, first);
      words = [...head.slice(first), ...(dash < 0 ? [] : ["--", ...tail])];
      bare = true;
    }
  }
  return { sub, opts, words, bare };
}

/** Entry point; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  if (args[0] === REFRESH.MODE) {
    // Started by the supervisor, never by a user: configuration comes from
    // its fd, not the environment (docs/refresh.md).
    setupLogging(parseConfig({}).enum("CLOUDTASER_LOG_LEVEL"));
    try {
      const { refreshCommand } = await import("../refresh/command.ts");
      return await refreshCommand(args.slice(1));
    } catch (e) {
      return failed(e);
    }
  }
  const { sub, opts, words, bare } = splitArgs(args);
  let values: { help?: boolean; version?: boolean; json?: boolean } = {};
  let positionals: string[] = [];
  try {
    // The usual start (`cloudtaser-wrapper -- CMD`) has no options: it does
    // not load node:util, whose parseArgs costs about 12 ms of CPU on the
    // first call (the Node compatibility layer's validators and errors).
    if (opts.length) {
      const { parseArgs } = await import("node:util");
      ({ values, positionals } = parseArgs({
        args: sub === "webhook" ? [] : opts, // webhook parses its own
        options: {
          help: { type: "boolean", short: "h" },
          version: { type: "boolean", short: "V" },
          json: { type: "boolean" },
        },
        allowPositionals: true,
      }));
    }
  } catch (e) {
    // node:util's message quotes the option oddly ('-- "--bogus"); say it
    // plainly.
    const m = /^Unknown option '([^']*)'/.exec((e as Error).message);
    const msg = m
      ? `unknown option ${
        m[1]
      } for ${sub}; the arguments of an app go after -- ` +
        `(cloudtaser-wrapper -- CMD ${m[1]})`
      : (e as Error).message;
    console.error(`cloudtaser-wrapper: ${msg}; see --help`);
    return 2;
  }
  if (values.help || sub === "help") {
    const { settingsHelp } = await import("../config/help.ts");
    console.log(USAGE + settingsHelp());
    return 0;
  }
  if (values.version || sub === "version") {
    console.log(`cloudtaser-wrapper ${VERSION}`);
    return 0;
  }
  // Parsed once, here; the commands that use it get the Config. install
  // and webhook read none of it: a bad value they would never use must not
  // stop them.
  let config: Config | ConfigError;
  try {
    restoreAppDenoDir();
    config = parseConfig(Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    config = e;
  }
  // An invalid configuration logs at the table's default level.
  setupLogging(
    (config instanceof ConfigError ? parseConfig({}) : config)
      .enum("CLOUDTASER_LOG_LEVEL"),
  );
  try {
    switch (sub) {
      case "install": {
        const dir = positionals[0] ?? words[0];
        if (!dir) throw new CommandLineError("install needs a directory");
        const { install } = await import("./install.ts");
        const r = await install(dir);
        console.log(
          `${
            r.changed ? "installed" : "already installed"
          }: ${r.path} (${r.kind})`,
        );
        return 0;
      }
      case "webhook":
        return await (await import("./webhook.ts")).webhookCommand(opts);
    }
    if (config instanceof ConfigError) throw config;
    // Every command but run is imported when used: the bundle splits them
    // into chunks (tests/support/bundle.ts), and a start parses only run's.
    switch (sub) {
      case "score":
        return await (await import("./score.ts")).scoreCommand(
          config,
          values.json === true,
        );
      case "check":
        return await (await import("./check.ts")).checkCommand(words, config);
      default:
        return await runCommand(words, config, bare);
    }
  } catch (e) {
    return failed(e);
  }
}

/** Before the app runs every error stops the start, named, never a value. */
function failed(e: unknown): number {
  log().error(isExpected(e) ? (e as Error).message : `unexpected error: ${e}`);
  return exitCodeOf(e);
}
