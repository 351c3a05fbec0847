/**
 * Runs the real wrapper (`deno run src/main.ts`) against a real OpenBao and
 * keeps every byte it printed, so each test file can prove at its end that
 * no test secret reached any output.
 */
import { randomMarker } from "./markers.ts";
import { asNobody, unprivilegedTree } from "./unprivileged.ts";
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
export const MAIN = `${ROOT}src/main.ts`;
const dec = new TextDecoder();

/** Everything any wrapper printed in this test file. */
export const allOutput: string[] = [];

/** A unique test secret. */
export function secret(tag: string): string {
  return randomMarker("CTW", tag, 12);
}

/** The wrapper's command line. */
export function wrapperArgs(args: string[]): string[] {
  return ["run", "-A", "--config", `${ROOT}deno.json`, MAIN, ...args];
}

/** Result of one wrapper run. */
export interface Run {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** How {@link wrapper} runs. */
export interface WrapperOptions {
  /**
   * Run as uid/gid 65534 with no capabilities, from a copy it can read
   * (tests/support/unprivileged.ts); `env` paths must be readable by it.
   */
  nobody?: boolean;
  /** RLIMIT_MEMLOCK in bytes for the unprivileged run. */
  memlock?: number;
}

/** The program and arguments that run the wrapper with `args`. */
export async function wrapperCommand(
  args: string[],
  opts: WrapperOptions = {},
): Promise<{ cmd: string; args: string[]; env: Record<string, string> }> {
  if (!opts.nobody) {
    return { cmd: Deno.execPath(), args: wrapperArgs(args), env: {} };
  }
  const tree = await unprivilegedTree();
  const [cmd, ...rest] = asNobody([Deno.execPath(), ...tree.args(args)], {
    memlock: opts.memlock,
  });
  return { cmd, args: rest, env: { DENO_DIR: tree.denoDir } };
}

/** Runs the wrapper to completion with exactly `env`. */
export async function wrapper(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
  opts: WrapperOptions = {},
): Promise<Run> {
  const how = await wrapperCommand(args, opts);
  const child = new Deno.Command(how.cmd, {
    args: how.args,
    env: { ...env, ...how.env },
    clearEnv: true,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const r = {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  allOutput.push(r.stdout, r.stderr);
  return r;
}

/**
 * Starts the wrapper with exactly `env` and keeps talking to it: `line()`
 * reads the app's next stdout line, `stdin` writes to it, `finish()` closes
 * stdin and collects the rest (all of it goes to {@link allOutput}).
 */
export async function startWrapper(
  args: string[],
  env: Record<string, string>,
  opts: WrapperOptions = {},
) {
  const how = await wrapperCommand(args, opts);
  const child = new Deno.Command(how.cmd, {
    args: how.args,
    env: { ...env, ...how.env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  let out = "";
  const line = async () => {
    while (!out.includes("\n")) {
      const r = await reader.read();
      if (r.done) break;
      out += r.value;
    }
    const nl = out.indexOf("\n");
    const l = nl < 0 ? out : out.slice(0, nl);
    out = nl < 0 ? "" : out.slice(nl + 1);
    allOutput.push(l);
    return l;
  };
  const finish = async () => {
    await stdin.close().catch(() => {});
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      out += r.value;
    }
    const st = await child.status;
    const err = await new Response(child.stderr).text();
    allOutput.push(out, err);
    return { status: st, stdout: out, stderr: err };
  };
  return { child, line, stdin, finish };
}

export { put, sharedServer } from "./openbao/mod.ts";

/** Fails if any output of this file holds one of `secrets`. */
export function assertNoSecretInOutput(secrets: string[]) {
  const all = allOutput.join("\n");
  for (const s of secrets) {
    assert.ok(!all.includes(s), `a test secret reached the output`);
  }
  assert.ok(allOutput.length > 0, "no output was captured at all");
}

/** JSON log lines of a run's stderr. */
export function logLines(r: Run): Array<Record<string, unknown>> {
  return r.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
}
