/**
 * A wrapper left running (its output collected as it comes), and the
 * value hashes the test apps print instead of values.
 */
import type { OpenBao } from "./openbao/server.ts";
import { allOutput, wrapperCommand } from "./wrapper.ts";

/** A running wrapper whose stdout and stderr are collected as they come. */
export class Running {
  out = "";
  err = "";
  #child: Deno.ChildProcess;
  #done: Promise<Deno.CommandStatus>;
  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    const dec = new TextDecoder();
    const pump = async (s: ReadableStream<Uint8Array>, to: "out" | "err") => {
      for await (const c of s) this[to] += dec.decode(c);
    };
    const p = Promise.all([
      pump(child.stdout, "out"),
      pump(child.stderr, "err"),
    ]);
    this.#done = child.status.then(async (s) => {
      await p;
      allOutput.push(this.out, this.err);
      return s;
    });
  }
  get pid() {
    return this.#child.pid;
  }
  kill(sig: Deno.Signal) {
    this.#child.kill(sig);
  }
  /** Ends the wrapper and every app it printed a pid of (no orphan). */
  async end() {
    for (const m of this.out.matchAll(/(?:ready|app) (\d+)/g)) {
      try {
        Deno.kill(Number(m[1]), "SIGKILL");
      } catch { /* gone */ }
    }
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#done;
  }
  status() {
    return this.#done;
  }
  /** Polls `cond` every 100 ms up to `ms`; fails with the output. */
  async until(cond: () => boolean, ms: number, what: string) {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) {
        throw new Error(
          `${what}: not within ${ms} ms\n${this.out}\n${this.err}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function run(args: string[], env: Record<string, string>) {
  const how = await wrapperCommand(args);
  return new Running(
    new Deno.Command(how.cmd, {
      args: how.args,
      env: { ...env, ...how.env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
}

export async function sha16(s: string) {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0"))
    .join("").slice(0, 16);
}

export function fnv(s: string) {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

export async function accessors(bao: OpenBao): Promise<string[]> {
  const r = await bao.api("LIST", "auth/token/accessors");
  return r.json.data.keys as string[];
}
