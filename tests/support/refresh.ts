/**
 * Starts the supervisor with refresh configured through
 * `build/refresh_launch` (c/testhelpers/refresh_launch.c), with
 * `build/refresh_fake` playing the refresh process: the supervisor's side
 * of the refresh protocol (docs/refresh.md), without the wrapper or Vault.
 * Every wait is bounded; `close()` kills whatever is left of the tree.
 */
import { nativePath } from "../../ffi/mod.ts";
import { childrenOf, jsonLines, ProcessTree } from "./supervisor.ts";

export const LAUNCH = nativePath("refresh_launch");
export const FAKE = nativePath("refresh_fake");
export const SUPERVISOR = nativePath("cloudtaser-supervisor");

export interface LaunchOptions {
  /** Behaviour words of refresh_fake (its --program-args after its name). */
  fake?: string[];
  /** The program the supervisor runs for a refresh. @default FAKE */
  program?: string;
  /** The app region's records. */
  app?: Record<string, string>;
  /** The token region's records. */
  token?: Record<string, string>;
  /** Supervisor arguments after the fds. @default ["--delivery", "env"] */
  args?: string[];
  /** Extra refresh_launch flags (--fd-env, --omit X, --unsealed-config). */
  launcher?: string[];
  /** The supervisor's environment besides PATH=/usr/bin:/bin. */
  env?: Record<string, string>;
}

const lines = (r: Record<string, string>) =>
  Object.entries(r).map(([k, v]) => `${k}=${v}\n`).join("");

/** FNV-1a 64 of a string's UTF-8 bytes, as testapp's `watch` prints it. */
export function fnv64(s: string): string {
  let h = 14695981039346656037n;
  for (const b of new TextEncoder().encode(s)) {
    h = ((h ^ BigInt(b)) * 1099511628211n) & 0xffff_ffff_ffff_ffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** A supervisor started by refresh_launch; its pid is the launcher's. */
export class Launch extends ProcessTree {
  constructor(cmd: string[], opts: LaunchOptions = {}) {
    const fake = opts.fake ?? [];
    const args = [
      "--supervisor",
      SUPERVISOR,
      "--program",
      opts.program ?? FAKE,
      "--arg",
      "refresh_fake",
      ...fake.flatMap((w) => ["--arg", w]),
      "--config",
      "CLOUDTASER_TEST=1",
      ...(opts.launcher ?? []),
      "--",
      ...(opts.args ?? ["--delivery", "env"]),
      "--",
      ...cmd,
    ];
    super(new Deno.Command(LAUNCH, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { PATH: "/usr/bin:/bin", ...opts.env },
      clearEnv: true,
    }).spawn());
    const w = this.child.stdin.getWriter();
    w.write(
      new TextEncoder().encode(
        `${lines(opts.app ?? {})}\n${lines(opts.token ?? {})}\n`,
      ),
    ).then(() => w.close()).catch(() => {});
  }

  /** The supervisor's JSON log lines so far. */
  logs(): Record<string, unknown>[] {
    return jsonLines(this.stderr);
  }

  /** Messages of the JSON log lines so far. */
  messages(): string[] {
    return this.logs().map((l) => String(l.message));
  }

  /** The supervisor's children now. */
  children(): number[] {
    return childrenOf(this.pid);
  }
}

/** Runs to the end with a bounded wait. */
export async function launchToEnd(
  cmd: string[],
  opts: LaunchOptions = {},
  ms = 10000,
): Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }> {
  const l = new Launch(cmd, opts);
  try {
    const status = await l.status(ms);
    return { status, stdout: l.stdout, stderr: l.stderr };
  } finally {
    await l.close();
  }
}
