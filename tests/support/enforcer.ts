/**
 * Runs cloudtaser-enforcer, protected targets and attackers for the enforcer
 * tests. Every process is bounded in time and killed in `stop()`/`finish()`.
 */
import { randomMarker } from "./markers.ts";
export const REPO = new URL("../../", import.meta.url).pathname;
export const ENFORCER = `${REPO}build/cloudtaser-enforcer`;
export const REGISTER = `${REPO}build/enforcer/ct-register`;
export const TARGET = `${REPO}build/attacks/ct-target`;
export const ATTACK = `${REPO}build/attacks/ct-attack`;
export const URING = `${REPO}build/attacks/ct-uring`;
export const SIGNAL = `${REPO}build/attacks/ct-signal`;
export const PERF = `${REPO}build/attacks/ct-perf`;
export const BPFREAD = `${REPO}build/attacks/ct-bpfread`;

const dec = new TextDecoder();

/** A unique secret the target holds; attacks look for its prefix. */
export function secret(tag: string): string {
  return randomMarker("CT-SECRET", tag, 8);
}

/** Collects a child's stdout as JSON lines while it runs. */
export class LineReader {
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
  /** `--allow` entries, e.g. `tracing:exe=/path` */
  allow?: string[];
  /** Reuse these pins and this socket (a restarted daemon adopts them). */
  pins?: PinDir;
}

/**
 * A private bpffs for one enforcer's pins: `<tmp>/bpf` is a fresh bpffs
 * mount (its own instance), the pins go to `<tmp>/bpf/pins`, the socket to
 * `<tmp>/enforcer.sock`. `remove()` uninstalls and unmounts: unmounting the
 * instance drops every pin in it, whatever state the enforcer left.
 */
export class PinDir {
  readonly dir: string;
  readonly bpffs: string;
  readonly pins: string;
  readonly socket: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.bpffs = `${dir}/bpf`;
    this.pins = `${dir}/bpf/pins`;
    this.socket = `${dir}/enforcer.sock`;
  }

  static async create(): Promise<PinDir> {
    await sweepStalePins();
    const p = new PinDir(Deno.makeTempDirSync({ prefix: PIN_PREFIX }));
    Deno.mkdirSync(p.bpffs);
    const m = await run("mount", ["-t", "bpf", "bpf", p.bpffs]);
    if (m.code !== 0) {
      Deno.removeSync(p.dir, { recursive: true });
      throw new Error(`mount -t bpf on ${p.bpffs} failed: ${m.stderr}`);
    }
    return p;
  }

  /** `cloudtaser-enforcer --uninstall` on these pins. */
  uninstall(): Promise<RunResult> {
    return run(ENFORCER, ["--uninstall", "--pin-dir", this.pins], 20000);
  }

  /** Uninstalls, unmounts the bpffs and removes the directory. */
  async remove(): Promise<void> {
    await this.uninstall();
    await run("umount", ["-l", this.bpffs]);
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch { /* already gone */ }
  }
}

const PIN_PREFIX = "ct-enforcer-";

/** Pins a test run that died left behind (its `finally` never ran) keep
 * programs attached that kill processes host-wide: remove them first. */
async function sweepStalePins(): Promise<void> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const mounts = Deno.readTextFileSync("/proc/self/mounts").split("\n")
    .map((l) => l.split(" ")).filter((f) =>
      f[2] === "bpf" && f[1]?.startsWith(`${tmp}/${PIN_PREFIX}`) &&
      f[1].endsWith("/bpf")
    ).map((f) => f[1]);
  for (const bpffs of mounts) {
    await run(ENFORCER, ["--uninstall", "--pin-dir", `${bpffs}/pins`], 20000);
    await run("umount", ["-l", bpffs]);
    try {
      Deno.removeSync(bpffs.replace(/\/bpf$/, ""), { recursive: true });
    } catch { /* gone */ }
  }
}

/** A running cloudtaser-enforcer with its own pins. */
export class Enforcer {
  readonly socket: string;
  readonly pins: PinDir;
  readonly out: LineReader;
  ready!: Record<string, unknown>;
  #child: Deno.ChildProcess;
  #stderr: Promise<string>;

  private constructor(pins: PinDir, child: Deno.ChildProcess) {
    this.pins = pins;
    this.socket = pins.socket;
    this.#child = child;
    this.out = new LineReader(child.stdout);
    this.#stderr = new Response(child.stderr).text();
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Starts the enforcer; on a failed start its pins are removed (unless
   * they were handed in). */
  static async start(opts: EnforcerOptions = {}): Promise<Enforcer> {
    const pins = opts.pins ?? await PinDir.create();
    const args = [
      "--mode",
      opts.mode ?? "enforce",
      "--tier",
      opts.tier ?? "auto",
      "--pin-dir",
      pins.pins,
      ...(opts.allow ?? []).flatMap((a) => ["--allow", a]),
      pins.socket,
    ];
    const child = new Deno.Command(ENFORCER, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const e = new Enforcer(pins, child);
    try {
      e.ready = await e.out.waitFor(
        (l) => l.event === "ready",
        15000,
        "the ready line",
      );
    } catch (err) {
      const { stderr } = await e.exit("SIGKILL");
      if (!opts.pins) await pins.remove();
      throw new Error(`${(err as Error).message}\nstderr: ${stderr}`);
    }
    return e;
  }

  /** Sends `signal` (SIGKILL after 5 s) and waits; the pins stay. */
  async exit(
    signal: Deno.Signal = "SIGTERM",
  ): Promise<{ status: Deno.CommandStatus; stderr: string }> {
    try {
      this.#child.kill(signal);
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
    return { status, stderr };
  }

  /** SIGTERM, then removes the pins (uninstall, unmount): nothing stays. */
  async stop(): Promise<{ status: Deno.CommandStatus; stderr: string }> {
    try {
      return await this.exit("SIGTERM");
    } finally {
      await this.pins.remove();
    }
  }
}

/** What ct-target announces. */
export interface TargetInfo {
  target: "parent" | "child";
  pid: number;
  /** its second thread with `thread`, else the pid */
  tid: number;
  pgid: number;
  /** the secret on the heap */
  addr: string;
  /** the secret in a memfd_secret mapping ("(nil)" without one) */
  region: string;
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
    opts: { fork?: boolean; thread?: boolean; tag?: string } = {},
  ): Promise<Target> {
    const s = secret(opts.tag ?? "target");
    const targetArgs = [
      TARGET,
      ...(opts.fork ? ["--fork"] : []),
      ...(opts.thread ? ["--thread"] : []),
    ];
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

  /** The status once it exited by itself (killed, say), within `ms`. */
  async exited(ms = 5000): Promise<Deno.CommandStatus | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      this.#proc.status,
      new Promise<undefined>((res) => {
        timer = setTimeout(() => res(undefined), ms);
      }),
    ]);
    clearTimeout(timer);
    return r;
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

/** Polls until `pred` holds or `ms` passed; returns the last value. */
export async function until<T>(
  get: () => T,
  pred: (v: T) => boolean,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let v = get();
  while (!pred(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    v = get();
  }
  return v;
}

/** The state letter of a process, or "gone". */
export function stateOf(pid: number): string {
  try {
    return procState(pid);
  } catch {
    return "gone";
  }
}

/** A copy of an executable (another inode) for an allow-list entry; the
 * caller removes it. */
export function copyExecutable(path: string): string {
  const dir = Deno.makeTempDirSync({ prefix: "ct-allowed-" });
  const copy = `${dir}/${path.split("/").pop()}`;
  Deno.copyFileSync(path, copy);
  Deno.chmodSync(copy, 0o755);
  return copy;
}

/** One attack: a command run against a target, and how it shows success
 * on an unprotected process. */
export interface Attack {
  name: string;
  cmd: (t: TargetInfo) => [string, string[]];
  worked: (r: RunResult, t: TargetInfo) => boolean;
}

/** Any of the attack programs (c/attacks/report.h's JSON line). */
export const program = (
  bin: string,
  what: string,
  args: (t: TargetInfo) => string[],
): Attack => ({
  name: `${bin.split("/").pop()} ${what}`,
  cmd: (t) => [bin, args(t)],
  worked: (r) => r.code === 0 && JSON.parse(r.stdout).result === "ok",
});

/** ct-attack WHAT PID ADDR FD (its probe surface). */
export const ctAttack = (what: string, on: "pid" | "tid" = "pid"): Attack => ({
  ...program(ATTACK, what, (t) => [what, String(t[on]), t.addr, String(t.fd)]),
  name: `ct-attack ${what}${on === "tid" ? " (thread id)" : ""}`,
});

/** The attack was stopped: refused with EPERM under LSM, its process
 * killed under the tracepoint tier, no secret in its output, and the
 * enforcer reported it (a denial after `before` naming this target or this
 * accessor). Returns the denial. */
export async function assertStopped(
  e: Enforcer,
  name: string,
  r: RunResult,
  before: number,
  target: number,
  secret: string,
): Promise<Record<string, unknown>> {
  const label =
    `${name} on ${target}: code ${r.code} signal ${r.signal}\n${r.stdout}${r.stderr}`;
  if (r.stdout.includes(secret) || r.stdout.includes('"saw_secret":true')) {
    throw new Error(`secret leaked: ${label}`);
  }
  if (e.ready.lsm) {
    // procfs reports a refused /proc/<pid>/fd/N link as EACCES
    if (
      !/EPERM|Operation not permitted|EACCES|Permission denied/.test(
        r.stdout + r.stderr,
      )
    ) {
      throw new Error(`not refused: ${label}`);
    }
  } else if (r.signal !== "SIGKILL") {
    throw new Error(`not killed: ${label}`);
  }
  const want = e.ready.lsm ? "denied" : "killed";
  // This attacker's own event; or, where the attacker is a child process of
  // r.pid, the target's with the expected action (a late event of an earlier
  // attack on the same target, e.g. a repaired SIGSTOP, is not it).
  const ev = await e.out.waitFor(
    (l) =>
      e.out.lines.indexOf(l) >= before && l.event === "denial" &&
      ((l.accessor as { pid: number }).pid === r.pid ||
        (l.target === target && l.action === want)),
    3000,
    `a denial for ${name}`,
  );
  if (ev.action !== want) {
    throw new Error(`${want} expected: ${JSON.stringify(ev)}\n${label}`);
  }
  return ev;
}

/** Runs one attack on `t` and checks that it was stopped. */
export async function attackStopped(
  e: Enforcer,
  a: Attack,
  t: TargetInfo,
  secret: string,
): Promise<Record<string, unknown>> {
  const before = e.out.lines.length;
  const [cmd, args] = a.cmd(t);
  const r = await run(cmd, args, 8000);
  return await assertStopped(e, a.name, r, before, t.pid, secret);
}

/** Runs one attack on an unprotected `t` and checks that it worked. */
export async function attackWorks(
  a: Attack,
  t: TargetInfo,
): Promise<RunResult> {
  const [cmd, args] = a.cmd(t);
  const r = await run(cmd, args, 8000);
  if (!a.worked(r, t)) {
    throw new Error(
      `${a.name} did not work on ${t.pid}: ${r.code} ${r.signal}\n${r.stdout}${r.stderr}`,
    );
  }
  return r;
}
