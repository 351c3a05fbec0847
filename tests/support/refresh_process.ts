/**
 * Runs the real `refresh` mode as the supervisor would (docs/refresh.md "A
 * refresh process"), before the supervisor side exists: the regions are
 * made with the real shim (memfd_secret, no CLOEXEC, so the child inherits
 * them), the configuration and the report are files on fds 7 and 8, and the
 * environment is PATH only.
 */
import * as native from "../../ffi/shim.ts";
import { fillRegionFd } from "../../src/refresh/region_fds.ts";
import type { SecretRegion } from "../../src/region/secret_region.ts";
import { openSecrets } from "../../src/sdk/open_secrets.ts";
import { allOutput, wrapperArgs } from "./wrapper.ts";

/** A memfd_secret file holding a copy of `region`; the child inherits it. */
export function regionFd(region: SecretRegion): number {
  const fd = native.memfdSecret(0);
  fillRegionFd(fd, region);
  return fd;
}

/** What a refresh run left. */
export interface RefreshRun {
  code: number;
  stderr: string;
  report: Record<string, string>;
  /** The out regions' records (token, app), when the refresh wrote them. */
  outToken?: Map<string, Uint8Array>;
  outApp?: Map<string, Uint8Array>;
}

function records(fd: number): Map<string, Uint8Array> | undefined {
  let s;
  try {
    s = openSecrets({ fd, unsetEnv: false });
  } catch {
    native.close(fd);
    return undefined; // empty: nothing written
  }
  try {
    return new Map(s.keys().map((k) => [k, s.get(k)!.slice()]));
  } finally {
    s.close();
  }
}

/** What {@link runRefresh} takes. */
export interface RefreshOptions {
  op: "due" | "revoke";
  state?: string;
  token: SecretRegion;
  app: SecretRegion;
  config: string[];
}

/**
 * Runs `refresh --op OP` with copies of `token` and `app` and the
 * configuration `env` (what the wrapper puts in the config memfd).
 */
export async function runRefresh(opts: RefreshOptions): Promise<RefreshRun> {
  return await (await startRefresh(opts)).finish();
}

/** A refresh process under way: its pid, and its end. */
export interface StartedRefresh {
  pid: number;
  kill(): void;
  finish(): Promise<RefreshRun>;
}

/** Starts `refresh --op OP` as {@link runRefresh} does, without waiting. */
export async function startRefresh(
  opts: RefreshOptions,
): Promise<StartedRefresh> {
  const dir = await Deno.makeTempDir();
  const fds = [
    regionFd(opts.token),
    regionFd(opts.app),
    native.memfdSecret(0),
    native.memfdSecret(0),
  ];
  try {
    await Deno.writeTextFile(`${dir}/config`, opts.config.join("\0") + "\0");
    const args = [
      "refresh",
      "--op",
      opts.op,
      ...(opts.state ? ["--state", opts.state] : []),
      "--token-fd",
      String(fds[0]),
      "--app-fd",
      String(fds[1]),
      "--out-token-fd",
      String(fds[2]),
      "--out-app-fd",
      String(fds[3]),
      "--config-fd",
      "7",
      "--report-fd",
      "8",
    ];
    const quoted = [Deno.execPath(), ...wrapperArgs(args)].map((a) =>
      `'${a.replaceAll("'", "'\\''")}'`
    ).join(" ");
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `exec ${quoted} 7<"$1" 8>"$2"`,
        "sh",
        `${dir}/config`,
        `${dir}/report`,
      ],
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // The child holds its copies now: the fds here are the test's to close.
    const finish = async (): Promise<RefreshRun> =>
      collect(await child.output(), dir, fds);
    return {
      pid: child.pid,
      kill: () => child.kill("SIGKILL"),
      finish,
    };
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

async function collect(
  out: Deno.CommandOutput,
  dir: string,
  fds: number[],
): Promise<RefreshRun> {
  try {
    const stderr = new TextDecoder().decode(out.stderr);
    allOutput.push(new TextDecoder().decode(out.stdout), stderr);
    let text = "";
    try {
      text = await Deno.readTextFile(`${dir}/report`);
    } catch { /* no report: the run failed */ }
    allOutput.push(text);
    const report: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) report[line.slice(0, eq)] = line.slice(eq + 1);
    }
    native.close(fds[0]);
    native.close(fds[1]);
    return {
      code: out.code,
      stderr,
      report,
      outToken: records(fds[2]),
      outApp: records(fds[3]),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
