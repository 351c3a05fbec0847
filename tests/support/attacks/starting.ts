/**
 * The start-up window (issue 11, holes 1-3): the real Deno wrapper frozen
 * with SIGSTOP right after a log line of its start-up, before the
 * hand-over, and attacked while frozen; and the positive controls for the
 * vectors only this window has (an unregistered process holding a
 * memfd_secret fd, one holding a valid token).
 *
 * The freeze is sent by `ct-signal` (a process of its own: the enforcer's
 * tracepoint tier kills a sender of a stop signal to a protected process),
 * as soon as the line arrives. A line is a few milliseconds late for the
 * registration point (the wrapper has made its region and read its client
 * key by then), so without the enforcer the harness plays a silent
 * enforcer there: it accepts the wrapper's registration and never answers,
 * and the freeze lands while the wrapper waits, before anything secret
 * exists. With the enforcer, the real one answers and the freeze follows
 * its "registered" line: the tier decides. The harness then waits for the
 * stopped state in `/proc/<pid>/stat` (not a guarded entry) and reads
 * `/proc/<pid>/comm` to tell the Deno wrapper from the supervisor that
 * replaces it at the hand-over: a freeze that came too late is retried.
 */
import { wrapperArgs } from "../wrapper.ts";
import { APP, CT_SIGNAL, CT_TARGET } from "./binaries.ts";
import { judge } from "./judge.ts";
import {
  type AttackFacts,
  type Ctx,
  EXIT_TIMEOUT_MS,
  record,
  runAttack,
  sleep,
  wrapperEnv,
} from "./runner.ts";
import type { Judged, Target, VectorId } from "./table.ts";

const dec = new TextDecoder();

/** Where the wrapper is frozen: the log line that marks the point. */
export const FREEZE_POINTS = {
  // DESIGN.md step 0 done: registered (or told there is no enforcer),
  // before any region, credential file or token.
  starting_registered: /"message":"(registered with the enforcer|no enforcer)"/,
  // Right after the reads: every value in the region, the client key
  // dropped, the token's revocation on the wire, the delivery not yet
  // chosen, the hand-over not yet made.
  starting_fetched: /"message":"secrets fetched"/,
} as const;
type Point = keyof typeof FREEZE_POINTS;

const LINE_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 3_000;
const TRIES = 5;

/** What the freeze did. */
interface Freeze {
  /** `ct-signal`'s answer, or how it died. */
  sender: string;
  senderKilled: boolean;
  denial?: string;
  /** The target's state letter after the freeze (T: stopped). */
  state: string;
  /** Its comm once frozen (`deno`: still the wrapper). */
  comm: string;
  /** ms from sending the signal to the stopped state. */
  ms: number;
}

function procField(pid: number, file: "stat" | "comm"): string {
  try {
    const t = Deno.readTextFileSync(`/proc/${pid}/${file}`);
    // stat: "pid (comm) S ..."; comm may hold spaces and parentheses
    return file === "comm" ? t.trim() : t.slice(t.lastIndexOf(")") + 2, -1)
      .split(" ")[0];
  } catch {
    return "gone";
  }
}

/** A wrapper starting the app, its stderr read line by line. */
class Starting {
  #proc: Deno.ChildProcess;
  #lines: string[] = [];
  #stdout: string[] = [];
  #reading: Promise<void>;

  constructor(env: Record<string, string>) {
    this.#proc = new Deno.Command(Deno.execPath(), {
      args: wrapperArgs(["--", APP, "DB_PASSWORD", "API_KEY", "DB_USER"]),
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = async (s: ReadableStream<Uint8Array>, out: string[]) => {
      let buf = "";
      for await (const chunk of s) {
        buf += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          out.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
    };
    this.#reading = Promise.all([
      lines(this.#proc.stderr, this.#lines),
      lines(this.#proc.stdout, this.#stdout),
    ]).then(() => {});
  }

  get pid(): number {
    return this.#proc.pid;
  }

  /** Waits for a stderr line matching `re` (polling the lines read so far). */
  async waitFor(re: RegExp): Promise<void> {
    const deadline = Date.now() + LINE_TIMEOUT_MS;
    for (;;) {
      if (this.#lines.some((l) => re.test(l))) return;
      const exited = await Promise.race([this.#proc.status, sleep(1)]);
      if (exited || Date.now() > deadline) {
        throw new Error(
          `the wrapper never logged ${re} (${
            exited ? `exit ${exited.code}` : "timeout"
          }):\n${this.#lines.slice(-5).join("\n")}`,
        );
      }
    }
  }

  /** Kills the wrapper (frozen or not) and the app, if one started (a
   * freeze the enforcer undid lets the start go on). */
  async stop(): Promise<void> {
    const app = this.#stdout.find((l) => l.startsWith('{"app":'));
    if (app) {
      try {
        Deno.kill(JSON.parse(app).app, "SIGKILL");
      } catch { /* gone */ }
    }
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* exited */ }
    await Promise.race([this.#proc.status, sleep(EXIT_TIMEOUT_MS)]);
    await Promise.race([this.#reading, sleep(1000)]);
  }
}

/** Whether `pid` has a memfd_secret fd open (root reads /proc/<pid>/fd;
 * only called without the enforcer, which would kill the reader). */
function holdsRegionFd(pid: number): boolean {
  try {
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        if (
          Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`).includes("secretmem")
        ) {
          return true;
        }
      } catch { /* closed meanwhile */ }
    }
  } catch { /* gone */ }
  return false;
}

/** Sends SIGSTOP through ct-signal and waits for the stopped state. */
async function freeze(ctx: Ctx, pid: number): Promise<Freeze> {
  const t0 = performance.now();
  const before = ctx.enforcer?.out.lines.length ?? 0;
  const sig = new Deno.Command(CT_SIGNAL, {
    args: ["kill:STOP", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = await sig.output();
  let state = procField(pid, "stat");
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (state !== "T" && state !== "gone" && Date.now() < deadline) {
    await sleep(5);
    state = procField(pid, "stat");
  }
  const ms = Math.round(performance.now() - t0);
  const f: Freeze = {
    sender: dec.decode(out.stdout).trim() || `exit ${out.code}`,
    senderKilled: out.signal === "SIGKILL",
    state,
    comm: procField(pid, "comm"),
    ms,
  };
  if (ctx.enforcer && f.senderKilled) {
    const ev = ctx.enforcer.out.lines.slice(before).find((l) =>
      l.event === "denial" &&
      (l.accessor as Record<string, unknown>)?.pid === sig.pid
    );
    if (ev) f.denial = `${ev.action} ${ev.what}`;
  }
  return f;
}

function judgeFreeze(f: Freeze): Judged {
  const frozen = f.state === "T";
  const what = `${f.comm} ${frozen ? "stopped" : `state ${f.state}`}`;
  if (f.senderKilled) {
    return {
      result: "blocked",
      hits: 0,
      short: `sender killed (${
        f.denial?.replace(/^killed /, "") ?? "SIGKILL"
      })`,
      detail: `ct-signal kill:STOP was killed (${
        f.denial ? `enforcer: ${f.denial}` : "no denial event seen"
      }); the target went on: ${what}`,
    };
  }
  return {
    result: frozen ? "allowed" : "blocked",
    hits: 0,
    short: frozen ? `frozen (${f.comm})` : `not frozen (${f.sender})`,
    detail: `ct-signal: ${f.sender}; ${what} ${f.ms} ms after the signal ` +
      "was sent",
  };
}

/** Tries each token the attack found; only counts leave this function. */
export async function judgeTokens(ctx: Ctx, f: AttackFacts): Promise<Judged> {
  const j = judge(f, "tokens");
  const tokens = f.tokens ?? [];
  f.tokens = undefined;
  if (j.result !== "blocked" || f.killed || f.error) return j;
  let valid = 0;
  for (const t of tokens) {
    const r = await ctx.bao.api("GET", "auth/token/lookup-self", undefined, {
      token: t,
    });
    if (r.status === 200) valid++;
  }
  tokens.fill("");
  const found = `${tokens.length} token-shaped strings (s. + 24), ` +
    `${valid} valid (auth/token/lookup-self answered 200)`;
  return {
    result: valid ? "recovered" : "blocked",
    hits: valid,
    short: valid
      ? `${valid} valid tokens of ${tokens.length} found`
      : `${tokens.length} found, 0 valid`,
    detail: `${found}; ${j.detail}`,
  };
}

async function attackOnce(
  ctx: Ctx,
  vector: VectorId,
  target: Target,
  pid: number,
  fds: (number | "all")[] = [],
): Promise<void> {
  const f = await runAttack(vector, pid, ctx.markers, ctx.enforcer, "0", fds);
  const j = vector === "tokens"
    ? await judgeTokens(ctx, f)
    : judge(f, vector, ctx.markerNames);
  record(ctx, vector, target, j);
}

/**
 * An enforcer socket that accepts a registration and never answers: the
 * wrapper waits there (up to its 2 s bound) with nothing secret made yet.
 */
class SilentEnforcer {
  readonly dir = Deno.makeTempDirSync();
  readonly path = `${this.dir}/silent-enforcer.sock`;
  #listener = Deno.listen({ transport: "unix", path: this.path });
  #conns: Deno.Conn[] = [];

  /** Resolves when the wrapper has connected (its registration asked). */
  async accepted(): Promise<void> {
    const c = await this.#listener.accept();
    this.#conns.push(c);
  }

  close(): void {
    for (const c of this.#conns) c.close();
    this.#listener.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/** The rows of one freeze point, against a freshly started wrapper. */
async function frozenAt(ctx: Ctx, point: Point): Promise<void> {
  let w: Starting | undefined;
  let f: Freeze | undefined;
  let silent: SilentEnforcer | undefined;
  const missed: string[] = [];
  try {
    for (let i = 0; i < TRIES; i++) {
      if (point === "starting_registered" && !ctx.enforcer) {
        silent = new SilentEnforcer();
        w = new Starting({
          ...wrapperEnv(ctx),
          CLOUDTASER_ENFORCER_SOCKET: silent.path,
        });
        await silent.accepted();
      } else {
        w = new Starting(wrapperEnv(ctx));
        await w.waitFor(FREEZE_POINTS[point]);
      }
      f = await freeze(ctx, w.pid);
      // A freeze after the hand-over found the supervisor: retry. With the
      // enforcer the sender dies and the wrapper goes on: that is the
      // result, not a miss. A freeze that landed inside one of hole 1's
      // windows (a region fd open: the hand-over's copy, made right before
      // the exec) is retried too: those windows are measured on their own
      // ("The two windows of hole 1"), and this row is about what the heap
      // holds after the reads, which a slower machine must not turn into
      // the other question.
      if (f.senderKilled) break;
      const inWindow = !ctx.enforcer && f.comm === "deno" &&
        holdsRegionFd(w.pid);
      if (f.comm === "deno" && !inWindow) break;
      missed.push(
        inWindow ? "deno inside a region-fd window" : `${f.comm} ${f.state}`,
      );
      await w.stop();
      w = undefined;
      silent?.close();
      silent = undefined;
    }
    if (!w || !f) {
      for (const v of ["stop", "scan", "vm_readv", "getfd", "tokens"]) {
        record(ctx, v as VectorId, point, {
          result: "n/a",
          hits: 0,
          short: "freeze missed",
          detail:
            `${TRIES} freezes came after the hand-over or inside a region-fd window (${
              missed.join("; ")
            })`,
        });
      }
      return;
    }
    const j = judgeFreeze(f);
    j.detail += silent
      ? "; sent while it waited for a silent enforcer's answer"
      : `; sent after its log line ${FREEZE_POINTS[point].source}`;
    if (missed.length) j.detail += `; ${missed.length} earlier freezes missed`;
    record(ctx, "stop", point, j);
    await attackOnce(ctx, "scan", point, w.pid);
    await attackOnce(ctx, "vm_readv", point, w.pid);
    await attackOnce(ctx, "getfd", point, w.pid, ["all"]);
    await attackOnce(ctx, "tokens", point, w.pid);
  } finally {
    await w?.stop();
    silent?.close();
  }
}

/** An unregistered process: `ct-target --keep-region-fd` holding the first
 * marker in a memfd_secret region whose fd stays open, or a process with a
 * fresh valid token in its environment. */
async function controls(ctx: Ctx): Promise<void> {
  const target = new Deno.Command(CT_TARGET, {
    args: ["--keep-region-fd"],
    env: { CT_SECRET: `CT-SECRET-${ctx.markers[0]}` },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const created = await ctx.bao.api("POST", "auth/token/create", {
    policies: ["default"],
    ttl: "10m",
  });
  const token = String(created.json?.auth?.client_token ?? "");
  const holder = new Deno.Command("/bin/sleep", {
    args: ["600"],
    env: { CONTROL_TOKEN: token },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const reader = target.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    reader.releaseLock();
    const info = JSON.parse(text.split("\n")[0]);
    const f = await freeze(ctx, target.pid);
    record(ctx, "stop", "control", judgeFreeze(f));
    Deno.kill(target.pid, "SIGCONT");
    await attackOnce(ctx, "getfd", "control", target.pid, [info.region_fd]);
    await attackOnce(ctx, "tokens", "control", holder.pid);
  } finally {
    for (const p of [target, holder]) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      await p.status;
    }
    await target.stdout.cancel().catch(() => {});
    if (token) {
      await ctx.bao.api("POST", "auth/token/revoke-self", undefined, {
        token,
      });
    }
  }
}

/** The start-up window's rows and their controls, for one column. */
export async function startingVectors(ctx: Ctx): Promise<void> {
  await frozenAt(ctx, "starting_registered");
  await frozenAt(ctx, "starting_fetched");
  await controls(ctx);
}
