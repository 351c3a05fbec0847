/**
 * Starts a program with secrets delivered the way cloudtaser-wrapper does.
 * Today through build/region_exec; switching to the wrapper changes only
 * `launch` here.
 */
import assert from "node:assert/strict";
import { nativePath } from "../../ffi/mod.ts";
import { fdTargets } from "./proc.ts";

export type Mode = "interposer" | "fd" | "env";

export interface LaunchOptions {
  mode: Mode;
  secrets: Record<string, string>;
  cmd: string[];
  /** The environment before delivery (cleared otherwise). */
  env?: Record<string, string>;
  /** Extra region_exec flags, e.g. ["--corrupt", "canary"]. */
  launcherFlags?: string[];
  /** Skip the launcher: run cmd with env as given (failure-mode tests). */
  raw?: boolean;
}

/** Every byte any launched program wrote, for the leak check. */
export const captured: string[] = [];

const dec = new TextDecoder();
const enc = new TextEncoder();
export const BUILD = (name: string) => nativePath(name);
const TIMEOUT_MS = 20_000;

/** A running app: read its stdout until a marker, inspect, then finish. */
export class App {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #out = "";
  #timer: ReturnType<typeof setTimeout>;

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#stdin = child.stdin.getWriter();
    this.#reader = child.stdout.getReader();
    this.#timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, TIMEOUT_MS);
  }

  async write(text: string): Promise<void> {
    await this.#stdin.write(enc.encode(text));
  }

  /** Reads stdout until a line starts with `marker`; returns all so far. */
  async until(marker = "ready"): Promise<string> {
    while (!this.#out.split("\n").some((l) => l.startsWith(marker))) {
      const { value, done } = await this.#reader.read();
      if (done) {
        throw new Error(`app ended before "${marker}": ${this.#out}`);
      }
      this.#out += dec.decode(value, { stream: true });
    }
    return this.#out;
  }

  /** Closes stdin, waits, returns everything. */
  async finish(): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      await this.#stdin.close();
    } catch { /* the app may have exited */ }
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      this.#out += dec.decode(value, { stream: true });
    }
    const stderr = dec.decode(
      await new Response(this.#child.stderr).arrayBuffer(),
    );
    const { code } = await this.#child.status;
    clearTimeout(this.#timer);
    captured.push(this.#out, stderr);
    return { code, stdout: this.#out, stderr };
  }
}

/** Starts the app and hands it the secrets. stdin stays open. */
export async function launch(o: LaunchOptions): Promise<App> {
  const env = { PATH: "/usr/local/bin:/usr/bin:/bin", ...o.env };
  const args = o.raw ? o.cmd : [
    "--mode",
    o.mode,
    ...(o.launcherFlags ?? []),
    "--",
    ...o.cmd,
  ];
  const child = new Deno.Command(o.raw ? o.cmd[0] : BUILD("region_exec"), {
    args: o.raw ? o.cmd.slice(1) : args,
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const app = new App(child);
  if (!o.raw) {
    const lines = Object.entries(o.secrets).map(([k, v]) => `${k}=${v}\n`);
    await app.write(lines.join("") + "\n");
  }
  return app;
}

/** Runs to completion (stdin closed after the secrets). */
export async function run(o: LaunchOptions) {
  const app = await launch(o);
  return await app.finish();
}

/** Test secrets: unique keys and values, with `=`, spaces, UTF-8, an empty and a long one. */
export function makeSecrets(tag: string): Record<string, string> {
  const r = () =>
    Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  const id = r().toUpperCase();
  return {
    [`CT_DB_PASSWORD_${id}`]: `CTMARK-${tag}-pw-${r()}`,
    [`CT_API_KEY_${id}`]: `CTMARK-${tag}-k=v w ü-${r()}`,
    [`CT_EMPTY_${id}`]: "",
    [`CT_LONG_${id}`]: `CTMARK-${tag}-long-${r()}-` + "x".repeat(8000),
  };
}

export function fnv64(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of enc.encode(s)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

export { sha256Hex as sha256 } from "./markers.ts";

/** What a C probe prints for a value. */
export function probeLine(op: string, key: string, value?: string): string {
  return value === undefined
    ? `${op} ${key} unset`
    : `${op} ${key} len=${enc.encode(value).length} fnv=${fnv64(value)}`;
}

/** The app's kernel-visible environment holds no secret key or value. */
export function assertEnvironClean(
  pid: number,
  secrets: Record<string, string>,
) {
  const environ = dec.decode(Deno.readFileSync(`/proc/${pid}/environ`));
  for (const [k, v] of Object.entries(secrets)) {
    assert.ok(!environ.includes(k), `key ${k} in /proc/${pid}/environ`);
    if (v !== "") {
      assert.ok(
        !environ.includes(v),
        `a value of ${k} in /proc/${pid}/environ`,
      );
    }
  }
}

/** The app maps a secretmem region and holds no region fd. */
export function assertRegionMappedNoFd(pid: number) {
  const maps = Deno.readTextFileSync(`/proc/${pid}/maps`);
  assert.match(maps, /\/secretmem/, "no /secretmem mapping in the app");
  for (const [fd, target] of fdTargets(pid)) {
    assert.ok(
      !/secretmem|memfd:cloudtaser/.test(target),
      `fd ${fd} -> ${target} is still open in the app`,
    );
  }
}

/** No captured output holds a secret value. */
export function assertNoLeak(secrets: Record<string, string>) {
  const all = captured.join("\n");
  for (const [k, v] of Object.entries(secrets)) {
    if (v !== "") assert.ok(!all.includes(v), `value of ${k} in output`);
  }
}
