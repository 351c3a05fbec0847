/**
 * Runs cloudtaser-enforcer, protected targets and attackers for the enforcer
 * tests. Every process is bounded in time and killed in `stop()`/`finish()`.
 */
import { randomMarker } from "../support/markers.ts";
export const REPO = new URL("../../", import.meta.url).pathname;
export const ENFORCER = `${REPO}build/cloudtaser-enforcer`;
export const REGISTER = `${REPO}build/enforcer/ct-register`;
export const TARGET = `${REPO}build/enforcer/ct-target`;
export const ATTACK = `${REPO}build/enforcer/ct-attack`;

const dec = new TextDecoder();

/** A unique secret the target holds; attacks look for its prefix. */
export function secret(tag: string): string {
  return randomMarker("CT-SECRET", tag, 8);
}

/** Collects a child's stdout as JSON lines while it runs. */
class LineReader {
  lines: Record<string, unknown>[] = [];
  raw = "";
  done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let buf = "";
      for await (const chunk of stream) {
        buf += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.raw += line + "\n";
          try {
            this.lines.push(JSON.parse(line));
          } catch { /* not JSON: kept in raw */ }
        }
      }
    })();
  }

  /** The first line matching `pred`, waiting up to `timeoutMs`. */
  async waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs = 5000,
    what = "a matching line",
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got:\n${this.raw}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export interface EnforcerOptions {
  mode?: "enforce" | "detect";
  tier?: "auto" | "lsm" | "fallback";
}

/** A running cloudtaser-enforcer. */
export class Enforcer {
  readonly socket: string;
  readonly out: LineReader;
  ready!: Record<string, unknown>;
  #child: Deno.ChildProcess;
  #stderr: Promise<string>;

  private constructor(socket: string, child: Deno.ChildProcess) {
    this.socket = socket;
    this.#child = child;
    this.out = new LineReader(child.stdout);
    this.#stderr = new Response(child.stderr).text();
  }

  get pid(): number {
    return this.#child.pid;
  }

  static async start(opts: EnforcerOptions = {}): Promise<Enforcer> {
    const dir = Deno.makeTempDirSync({ prefix: "ct-enforcer-" });
    const socket = `${dir}/enforcer.sock`;
    const args = [
      "--mode",
      opts.mode ?? "enforce",
      "--tier",
      opts.tier ?? "auto",
      socket,
    ];
    const child = new Deno.Command(ENFORCER, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const e = new Enforcer(socket, child);
    try {
      e.ready = await e.out.waitFor(
        (l) => l.event === "ready",
        15000,
        "the ready line",
      );
    } catch (err) {
      await e.stop();
      throw new Error(`${(err as Error).message}\nstderr: ${await e.#stderr}`);
    }
    return e;
  }

  /** SIGTERM, then SIGKILL after 5 s; returns the exit status and stderr. */
  async stop(): Promise<{ status: Deno.CommandStatus; stderr: string }> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, 5000);
    const status = await this.#child.status;
    clearTimeout(timer);
    await this.out.done;
    const stderr = await this.#stderr;
    try {
      Deno.removeSync(this.socket.replace(/\/[^/]*$/, ""), { recursive: true });
    } catch { /* already gone */ }
    return { status, stderr };
  }
}

/** What ct-target announces. */
export interface TargetInfo {
  target: "parent" | "child";
  pid: number;
  addr: string;
  fd: number;
  self_check: string;
}

/** ct-target, optionally registered through ct-register and forking a child. */
export class Target {
  readonly out: LineReader;
  readonly secret: string;
  registration?: Record<string, unknown>;
  parent!: TargetInfo;
  child?: TargetInfo;
  #proc: Deno.ChildProcess;

  private constructor(proc: Deno.ChildProcess, secret: string) {
    this.#proc = proc;
    this.secret = secret;
    this.out = new LineReader(proc.stdout);
  }

  static async start(
    socket: string | null,
    opts: { fork?: boolean; tag?: string } = {},
  ): Promise<Target> {
    const s = secret(opts.tag ?? "target");
    const targetArgs = opts.fork ? [TARGET, "--fork"] : [TARGET];
    const [cmd, args] = socket
      ? [REGISTER, [socket, "--", ...targetArgs]]
      : [targetArgs[0], targetArgs.slice(1)];
    const proc = new Deno.Command(cmd, {
      args,
      env: { CT_SECRET: s },
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    const t = new Target(proc, s);
    try {
      if (socket) {
        t.registration = await t.out.waitFor(
          (l) => "registered" in l,
          5000,
          "registration",
        );
      }
      t.parent = await t.out.waitFor(
        (l) => l.target === "parent",
        5000,
        "target",
      ) as unknown as TargetInfo;
      if (opts.fork) {
        t.child = await t.out.waitFor(
          (l) => l.target === "child",
          5000,
          "child",
        ) as unknown as TargetInfo;
      }
    } catch (err) {
      await t.finish();
      throw err;
    }
    return t;
  }

  /** Asks the parent (and child) to re-check their own /proc access. */
  async selfCheck(): Promise<TargetInfo[]> {
    const before = this.out.lines.length;
    const pids = [this.parent.pid, ...(this.child ? [this.child.pid] : [])];
    for (const pid of pids) Deno.kill(pid, "SIGUSR1");
    const got: TargetInfo[] = [];
    for (const pid of pids) {
      got.push(
        await this.out.waitFor(
          (l) => this.out.lines.indexOf(l) >= before && l.pid === pid,
          5000,
          `self-check of ${pid}`,
        ) as unknown as TargetInfo,
      );
    }
    return got;
  }

  async finish(): Promise<Deno.CommandStatus> {
    try {
      this.#proc.kill("SIGTERM");
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        this.#proc.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, 3000);
    const status = await this.#proc.status;
    clearTimeout(timer);
    await this.out.done;
    return status;
  }
}

export interface RunResult {
  pid: number;
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, SIGKILLed after `timeoutMs`. */
export async function run(
  cmd: string,
  args: string[],
  timeoutMs = 10000,
  env?: Record<string, string>,
): Promise<RunResult> {
  const proc = new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      proc.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }, timeoutMs);
  const out = await proc.output();
  clearTimeout(timer);
  return {
    pid: proc.pid,
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** The process state letter from /proc/<pid>/stat ("S", "T", ...). */
export function procState(pid: number): string {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
}
