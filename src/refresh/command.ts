/**
 * The `refresh` mode (docs/refresh.md "A refresh process"): a short process
 * the supervisor starts with the regions as fds; it talks to Vault, writes
 * complete new regions into the out fds, writes the KEY=VALUE report, exits
 * 0. Nothing it writes to the report or the log holds a secret value.
 *
 * ```text
 * refresh --op due|revoke --state S --token-fd 3 --app-fd 4
 *         --out-token-fd 5 --out-app-fd 6 --config-fd 7 --report-fd 8
 * ```
 */
import { REFRESH } from "../../ffi/constants.ts";
import { parseConfig } from "../config/parse.ts";
import { enforcerState, hardenFromConfig } from "../cli/start.ts";
import { setupLogging } from "../log.ts";
import type { Secrets } from "../sdk/open_secrets.ts";
import { runDue } from "./due.ts";
import {
  closeFd,
  mapRegionFd,
  parseConfigEntries,
  readConfigFd,
  writeRegionFd,
} from "./region_fds.ts";
import { runRevoke } from "./revoke.ts";
import { decodeState, encodeState } from "./state.ts";

/** The fd options, named once (ct/refresh.h, ffi/constants.ts REFRESH). */
const FDS = Object.keys(REFRESH.FDS).map((f) => f.slice(2));

/** The report's lines (docs/refresh.md); never a secret value. */
export type Report = Record<string, string | number>;

/** `KEY=VALUE` lines; newlines in a message are flattened. */
export function formatReport(r: Report): string {
  return Object.entries(r).map(([k, v]) =>
    `${k}=${String(v).replace(/[\r\n]+/g, " ")}\n`
  ).join("");
}

function fdArg(values: Record<string, unknown>, name: string) {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d{1,9}$/.test(v)) {
    throw new TypeError(`--${name} is not an fd number`);
  }
  return Number(v);
}

/**
 * The refresh's own deadline: 80 % of the supervisor's, so a slow server
 * ends in a report that says so rather than in a SIGKILL.
 */
export const OWN_DEADLINE_SHARE = 0.8;

function ownDeadline(supervisorMs: number): AbortSignal {
  return AbortSignal.timeout(
    Math.max(1, Math.floor(supervisorMs * OWN_DEADLINE_SHARE)),
  );
}

/** Runs the refresh; returns the exit code (0 once the report is written). */
export async function refreshCommand(args: string[]): Promise<number> {
  // Imported here, not at the top: the bundle hoists a static node: import
  // of this lazily loaded module to its first line, and node:util would
  // load Deno's Node compatibility layer at every start (tests/support/
  // bundle.ts refuses such a bundle).
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    args,
    options: {
      op: { type: "string" },
      state: { type: "string" },
      ...Object.fromEntries(FDS.map((f) => [f, { type: "string" as const }])),
    },
    strict: true,
  });
  const fd = Object.fromEntries(FDS.map((f) => [f, fdArg(values, f)]));
  const op = values.op;
  if (op !== REFRESH.OP_DUE && op !== REFRESH.OP_REVOKE) {
    throw new TypeError("refresh needs --op due or --op revoke");
  }
  for (const f of ["token-fd", "config-fd", "report-fd"]) {
    if (fd[f] === undefined) throw new TypeError(`refresh needs --${f}`);
  }
  // Configuration first (no secret in it), for the enforcer's socket.
  const config = parseConfig(
    parseConfigEntries(readConfigFd(fd["config-fd"]!)),
  );
  setupLogging(config.enum("CLOUDTASER_LOG_LEVEL"));
  // Registered and hardened before anything secret is mapped. "No
  // enforcer" was said at the start: not again at every refresh.
  await enforcerState(config, "debug");
  // Under a tracer it stops here (ProtectionMissingError, exit 3, no
  // report: the supervisor counts a failed refresh), unless
  // CLOUDTASER_ALLOW_TRACER says go on.
  hardenFromConfig(config);
  const token = mapRegionFd(fd["token-fd"]!);
  let app: Secrets | undefined;
  let report: Report;
  try {
    if (op === REFRESH.OP_REVOKE) {
      for (const f of ["app-fd", "out-token-fd", "out-app-fd"]) closeFd(fd[f]);
      const r = await runRevoke(
        config,
        token,
        ownDeadline(config.durationMs("CLOUDTASER_REVOKE_TIMEOUT")),
      );
      report = {
        status: r.ok ? "ok" : "failed",
        token: r.tokenRevoked ? "revoked" : "same",
        app: "same",
        leases_revoked: r.leasesRevoked,
        due_ms: 0,
      };
      if (r.message) report.message = r.message;
    } else {
      if (fd["app-fd"] === undefined || values.state === undefined) {
        throw new TypeError("refresh --op due needs --app-fd and --state");
      }
      app = mapRegionFd(fd["app-fd"]);
      const r = await runDue(
        config,
        decodeState(values.state),
        token,
        app,
        ownDeadline(config.durationMs("CLOUDTASER_REFRESH_TIMEOUT")),
      );
      try {
        if (r.newToken) writeRegionFd(fd["out-token-fd"]!, r.newToken.region!);
        else closeFd(fd["out-token-fd"]);
        if (r.newApp) writeRegionFd(fd["out-app-fd"]!, r.newApp);
        else closeFd(fd["out-app-fd"]);
      } finally {
        r.newToken?.wipe();
        r.newApp?.wipe();
      }
      let state = encodeState(r.state);
      let message = r.message;
      if (state.length > REFRESH.STATE_MAX) {
        // Past the supervisor's limit the whole report would be refused.
        state = values.state;
        message = `the new refresh state is longer than ${REFRESH.STATE_MAX} ` +
          `bytes; ${message}`;
      }
      report = {
        status: r.ok ? "ok" : "failed",
        token: r.newToken ? "changed" : "same",
        app: r.newApp ? "changed" : "same",
        apply_in_ms: r.applyInMs,
        due_ms: r.dueMs,
        state,
      };
      if (message) report.message = message;
    }
  } finally {
    token.close();
    app?.close();
  }
  const text = new TextEncoder().encode(formatReport(report));
  try {
    Deno.writeFileSync(`/proc/self/fd/${fd["report-fd"]}`, text);
  } finally {
    closeFd(fd["report-fd"]);
  }
  return 0;
}
