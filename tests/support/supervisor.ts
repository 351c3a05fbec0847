/**
 * Runs tests/support/fixtures/handover_run.ts (the wrapper's hand-over, alone) and
 * watches the supervisor it becomes. Every wait is bounded; `close()` kills
 * whatever is left of the process tree.
 */
import { randomMarker } from "./markers.ts";
import { nativePath } from "../../ffi/mod.ts";
import type { Delivery } from "../../ffi/handover.ts";

const FIXTURE = new URL("./fixtures/handover_run.ts", import.meta.url)
  .pathname;
/** The app that records signals or sleeps (c/supervisor/testapp.c). */
export const TESTAPP = nativePath("cloudtaser-supervisor-testapp");
/** The base environment handed to the supervisor in most tests. */
export const BASE_ENV = ["PATH=/usr/bin:/bin", "HELLO=world"];

export interface RunOptions {
  delivery?: Delivery;
  /** `--env` entries: the supervisor's environment. @default BASE_ENV */
  env?: string[];
  /** Secrets put into the region (via the fixture's own environment). */
  secrets?: Record<string, string>;
  sleepMs?: number;
  corruptCanary?: boolean;
  /** Hand over a region of size 0: the hand-over fails before any exec. */
  badRegion?: boolean;
  stdin?: "piped" | "null";
  /** Command words put before `deno run` (e.g. unshare). */
  prefix?: string[];
  /** The region header's flags (src/region/format.ts FLAGS). */
  flags?: number;
}

/** A unique secret value for one test. */
export function marker(tag: string): string {
  return randomMarker("CTSUP", tag, 12);
}

/** The pids of `pid`'s children (first thread's list). */
export function childrenOf(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`)
      .trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A field of /proc/<pid>/status, or undefined when the process is gone. */
export function statusField(pid: number, field: string): string | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return new RegExp(`^${field}:\\s*(.*)$`, "m").exec(s)?.[1];
  } catch {
    return undefined;
  }
}

export { fdTargets } from "./proc.ts";

/** Polls `fn` every 10 ms until it returns a value, or throws after `ms`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | null | false,
  ms = 5000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A started fixture; the process becomes the supervisor in place. */
/**
 * A spawned process tree whose stdout and stderr are collected as text:
 * bounded waits for output, a bounded exit status, and a kill of the whole
 * tree ({@link Run} and the refresh tests' Launch build on it).
 */
export class ProcessTree {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #readers: Promise<void>[];
  #status: Deno.CommandStatus | undefined;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.#readers = [
      this.#collect(child.stdout, (s) => this.stdout += s),
      this.#collect(child.stderr, (s) => this.stderr += s),
    ];
  }

  async #collect(s: ReadableStream<Uint8Array>, add: (s: string) => void) {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      add(chunk);
    }
  }

  /** The top process's pid (the supervisor keeps it). */
  get pid(): number {
    return this.child.pid;
  }

  /** Waits for stdout to match `re` (global `re`: for its n-th match). */
  waitStdout(re: RegExp, ms = 8000, n = 1): Promise<RegExpExecArray> {
    return this.#wait("stdout", () => this.stdout, re, ms, n);
  }

  /** Waits for stderr to match `re` (global `re`: for its n-th match). */
  waitStderr(re: RegExp, ms = 8000, n = 1): Promise<RegExpExecArray> {
    return this.#wait("stderr", () => this.stderr, re, ms, n);
  }

  #wait(
    what: string,
    text: () => string,
    re: RegExp,
    ms: number,
    n: number,
  ): Promise<RegExpExecArray> {
    return until(`${what} ${re} x${n} (got ${JSON.stringify(text())})`, () => {
      if (!re.global) return re.exec(text());
      const all = [...text().matchAll(re)];
      return all.length >= n ? all[n - 1] as RegExpExecArray : undefined;
    }, ms);
  }

  /** The exit status, bounded; on timeout the tree is killed. */
  async status(ms = 10000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), ms)
    );
    const st = await Promise.race([this.child.status, timeout]);
    clearTimeout(timer);
    if (st === "timeout") {
      await this.close();
      throw new Error(`no exit within ${ms} ms; stderr: ${this.stderr}`);
    }
    await Promise.all(this.#readers);
    this.#status = st;
    return st;
  }

  /** Kills every process left in the tree and waits for the top one. */
  async close(): Promise<void> {
    if (this.#status) return;
    const all: number[] = [];
    const walk = (p: number) => {
      all.push(p);
      childrenOf(p).forEach(walk);
    };
    walk(this.pid);
    for (const p of all.reverse()) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch { /* gone */ }
    }
    this.#status = await this.child.status;
    await Promise.all(this.#readers);
  }
}

export class Run extends ProcessTree {
  constructor(argv: string[], opts: RunOptions = {}) {
    const args = [
      "run",
      "-A",
      "--no-lock",
      "--no-config",
      FIXTURE,
      "--delivery",
      opts.delivery ?? "env",
      ...(opts.env ?? BASE_ENV).flatMap((e) => ["--env", e]),
    ];
    if (opts.sleepMs) args.push("--sleep-ms", String(opts.sleepMs));
    if (opts.corruptCanary) args.push("--corrupt-canary");
    if (opts.badRegion) args.push("--bad-region");
    if (opts.flags !== undefined) args.push("--flags", String(opts.flags));
    args.push("--", ...argv);
    const cmd = [...(opts.prefix ?? []), Deno.execPath(), ...args];
    super(new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
      env: {
        HANDOVER_SECRETS: Object.entries(opts.secrets ?? {})
          .map(([k, v]) => `${k}=${v}`).join("\n"),
      },
    }).spawn());
  }

  /**
   * Waits until `sup` is the supervisor and its child has exec'd the app
   * (until then the child is a copy of the supervisor); returns its pid.
   */
  async app(sup = this.pid): Promise<number> {
    const exe = (pid: number) => {
      try {
        return Deno.readLinkSync(`/proc/${pid}/exe`);
      } catch {
        return "";
      }
    };
    const isSupervisor = (pid: number) =>
      exe(pid).includes("memfd:cloudtaser-supervisor");
    await until(`pid ${sup} becomes the supervisor`, () => isSupervisor(sup));
    return until(`the supervisor ${sup} has started the app`, () => {
      const child = childrenOf(sup)[0];
      return child && exe(child) && !isSupervisor(child) ? child : undefined;
    });
  }
}

/** Runs to completion with a bounded wait. */
export async function runToEnd(
  argv: string[],
  opts: RunOptions = {},
  input?: string,
): Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }> {
  const run = new Run(argv, {
    ...opts,
    stdin: input === undefined ? "null" : "piped",
  });
  try {
    if (input !== undefined) {
      const w = run.child.stdin.getWriter();
      await w.write(new TextEncoder().encode(input));
      await w.close();
    }
    const status = await run.status();
    return { status, stdout: run.stdout, stderr: run.stderr };
  } finally {
    await run.close();
  }
}

/** The JSON lines a program wrote on stderr. */
export function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
}
