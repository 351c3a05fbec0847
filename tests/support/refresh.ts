/**
 * Starts the supervisor with refresh configured through
 * `build/refresh_launch` (c/testhelpers/refresh_launch.c), with
 * `build/refresh_fake` playing the refresh process: the supervisor's side
 * of the refresh protocol (docs/refresh.md), without the wrapper or Vault.
 * Every wait is bounded; `close()` kills whatever is left of the tree.
 */
import { nativePath } from "../../ffi/mod.ts";
import { childrenOf, jsonLines, until } from "./supervisor.ts";

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
export class Launch {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #readers: Promise<void>[];
  #status: Deno.CommandStatus | undefined;

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
    this.child = new Deno.Command(LAUNCH, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { PATH: "/usr/bin:/bin", ...opts.env },
      clearEnv: true,
    }).spawn();
    const w = this.child.stdin.getWriter();
    w.write(
      new TextEncoder().encode(
        `${lines(opts.app ?? {})}\n${lines(opts.token ?? {})}\n`,
      ),
    ).then(() => w.close()).catch(() => {});
    this.#readers = [
      this.#collect(this.child.stdout, (s) => this.stdout += s),
      this.#collect(this.child.stderr, (s) => this.stderr += s),
    ];
  }

  async #collect(s: ReadableStream<Uint8Array>, add: (s: string) => void) {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      add(chunk);
    }
  }

  /** The supervisor's pid (refresh_launch execs it in place). */
  get pid(): number {
    return this.child.pid;
  }

  /** The supervisor's JSON log lines so far. */
  logs(): Record<string, unknown>[] {
    return jsonLines(this.stderr);
  }

  /** Messages of the JSON log lines so far. */
  messages(): string[] {
    return this.logs().map((l) => String(l.message));
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

  /** The supervisor's children now. */
  children(): number[] {
    return childrenOf(this.pid);
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
