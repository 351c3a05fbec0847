/**
 * The root attack matrix: root on the same machine tries each vector against
 * a live wrapper (the resident C supervisor) and its app, with secrets
 * fetched from a real OpenBao over mTLS as markers, in `env` and
 * `interposer` delivery, with and without the enforcer.
 *
 * The attacks run as separate processes (`build/attacks/ct-rootattack`),
 * because the enforcer's fallback tier kills the attacker. The harness itself
 * never opens a protected process's `/proc` entries: addresses and fd numbers
 * come from the app (`build/attacks/ct-app`), which, as a member of the
 * wrapper's group, may read them. No marker value is ever printed: results
 * hold counts and mapping names.
 *
 * @example
 * ```ts
 * import { runMatrix } from "./matrix.ts";
 * const report = await runMatrix({ log: console.error });
 * console.log(report.cells.filter((c) => c.result === "recovered").length);
 * ```
 */
import { Enforcer } from "../enforcer.ts";
import { put } from "../openbao/mod.ts";
import { wrapperArgs } from "../wrapper.ts";
import { type OpenBao, startOpenBao } from "../openbao/server.ts";

const REPO = new URL("../../../", import.meta.url).pathname;
export const ROOTATTACK = `${REPO}build/attacks/ct-rootattack`;
export const APP = `${REPO}build/attacks/ct-app`;
/** A static build of ct-app: a grandchild that cannot load the interposer. */
export const APP_STATIC = `${REPO}build/attacks/ct-app-static`;

const dec = new TextDecoder();
const enc = new TextEncoder();

export type Mode = "env" | "interposer";
export type Target =
  | "wrapper"
  | "app"
  | "grandchild"
  | "sh_grandchild"
  | "static_grandchild";
/** `blocked`: no marker came out; `recovered`: markers came out; `allowed`:
 * a step that reveals nothing by itself succeeded (a coredump_filter write);
 * `n/a`: the vector does not apply (no region in that process). */
export type Outcome = "blocked" | "recovered" | "allowed" | "n/a";

/** One column of the table. */
export interface Column {
  mode: Mode;
  enforcer: boolean;
}

/** The rows, in table order: a vector and the process it is aimed at. */
export const ROWS = [
  { id: "environ", target: "wrapper", label: "read /proc/<pid>/environ" },
  { id: "environ", target: "app", label: "read /proc/<pid>/environ" },
  { id: "environ", target: "grandchild", label: "read /proc/<pid>/environ" },
  { id: "mem", target: "wrapper", label: "read /proc/<pid>/mem at the region" },
  { id: "mem", target: "app", label: "read /proc/<pid>/mem at the region" },
  { id: "scan", target: "wrapper", label: "scan every readable mapping" },
  { id: "scan", target: "app", label: "scan every readable mapping" },
  { id: "scan", target: "grandchild", label: "scan every readable mapping" },
  { id: "vm_readv", target: "wrapper", label: "process_vm_readv" },
  { id: "vm_readv", target: "app", label: "process_vm_readv" },
  { id: "ptrace", target: "wrapper", label: "ptrace attach + PEEKDATA" },
  { id: "ptrace", target: "app", label: "ptrace attach + PEEKDATA" },
  { id: "getfd", target: "wrapper", label: "pidfd_getfd every fd" },
  { id: "getfd", target: "app", label: "pidfd_getfd every fd" },
  { id: "reopen", target: "wrapper", label: "reopen /proc/<pid>/fd/N" },
  { id: "reopen", target: "app", label: "reopen /proc/<pid>/fd/N" },
  { id: "map_files", target: "wrapper", label: "open /proc/<pid>/map_files/*" },
  { id: "map_files", target: "app", label: "open /proc/<pid>/map_files/*" },
  {
    id: "coredump_filter",
    target: "wrapper",
    label: "write /proc/<pid>/coredump_filter",
  },
  {
    id: "coredump_filter",
    target: "app",
    label: "write /proc/<pid>/coredump_filter",
  },
  { id: "core_segv", target: "wrapper", label: "core dump (SIGSEGV)" },
  { id: "core_segv", target: "app", label: "core dump (SIGSEGV)" },
  {
    id: "core_pipe",
    target: "wrapper",
    label: "core dump to a pipe (SIGABRT)",
  },
  { id: "core_pipe", target: "app", label: "core dump to a pipe (SIGABRT)" },
  {
    id: "core_escalated",
    target: "wrapper",
    label: "core dump, escalated (SIGSEGV)",
  },
  {
    id: "core_escalated",
    target: "app",
    label: "core dump, escalated (SIGSEGV)",
  },
  // Programs the app starts (issue 11, item 4): exec'd directly, through
  // /bin/sh -c (popen), and a static one that cannot load the interposer.
  {
    id: "mem",
    target: "grandchild",
    label: "read /proc/<pid>/mem at the region",
  },
  { id: "environ", target: "sh_grandchild", label: "read /proc/<pid>/environ" },
  { id: "scan", target: "sh_grandchild", label: "scan every readable mapping" },
  {
    id: "environ",
    target: "static_grandchild",
    label: "read /proc/<pid>/environ",
  },
  {
    id: "scan",
    target: "static_grandchild",
    label: "scan every readable mapping",
  },
  // The resident mapping (item 5), as /proc/<pid>/maps shows it.
  {
    id: "layout",
    target: "wrapper",
    label: "region mapping: read-only, PROT_NONE on both sides",
  },
  {
    id: "layout",
    target: "app",
    label: "region mapping: read-only, PROT_NONE on both sides",
  },
  // Cores that RLIMIT_CORE 1/1 does not stop (item 6), and one it does.
  {
    id: "core_lowered",
    target: "wrapper",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_lowered",
    target: "app",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_lowered",
    target: "grandchild",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_lowered",
    target: "sh_grandchild",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_socket",
    target: "wrapper",
    label: "core dump to a socket core_pattern (SIGABRT)",
  },
  {
    id: "core_socket",
    target: "app",
    label: "core dump to a socket core_pattern (SIGABRT)",
  },
  {
    id: "core_socket",
    target: "grandchild",
    label: "core dump to a socket core_pattern (SIGABRT)",
  },
  {
    id: "core_own",
    target: "app",
    label: "the app's own crash, core to a pipe (abort)",
  },
] as const satisfies readonly { id: string; target: Target; label: string }[];

export type VectorId = (typeof ROWS)[number]["id"];

/** One measured cell. */
export interface Cell {
  vector: VectorId;
  target: Target;
  mode: Mode;
  enforcer: boolean;
  result: Outcome;
  /** Markers found (0 unless recovered). */
  hits: number;
  /** One line for the table: the error, the kill, or where markers were. */
  short: string;
  /** What each attempt got: errors, kills, where markers were. */
  detail: string;
}

type Judged = Pick<Cell, "result" | "hits" | "short" | "detail">;

/** Everything `docs/security.md` is made from. */
export interface MatrixReport {
  date: string;
  kernel: string;
  /** The enforcer's tier as its ready line said (`tracepoint-kill`, `lsm`). */
  tier: string;
  lsmUnavailable?: string;
  cells: Cell[];
  durationMs: number;
  /** What the app reported about its keys, per mode (where getenv points). */
  appKeys: Record<Mode, string>;
}

export interface MatrixOptions {
  /** Progress lines (never a value). */
  log?: (line: string) => void;
  /** Columns to run. @default all four */
  columns?: Column[];
}

/** Permissions of a region's VMA and of the VMAs right before and after. */
interface Layout {
  perms: string;
  before: string;
  after: string;
}

/** What ct-app reports once it runs. */
interface AppInfo {
  app: number;
  wrapper: number;
  grandchild: number;
  sh_grandchild: number;
  static_grandchild: number;
  static_error: string | null;
  app_region: string | null;
  wrapper_region: string | null;
  grandchild_region: string | null;
  sh_grandchild_region: string | null;
  wrapper_layout: Layout | null;
  app_layout: Layout | null;
  app_stack: string;
  app_fds: number[];
  wrapper_fds: number[];
  keys: { key: string; len: number; where: string }[];
}

const SECRET_KEYS = ["DB_PASSWORD", "API_KEY", "DB_USER"];
const START_TIMEOUT_MS = 30_000;
const ATTACK_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 10_000;

const sleep = (ms: number): Promise<undefined> =>
  new Promise((r) => setTimeout(() => r(undefined), ms));

function hex(n: number): string {
  return [...crypto.getRandomValues(new Uint8Array(n))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A live wrapper running ct-app (which runs a grandchild). */
class Instance {
  info!: AppInfo;
  #proc: Deno.ChildProcess;
  #stderr: Promise<string>;
  #lines: string[] = [];
  #done: Promise<void>;

  private constructor(proc: Deno.ChildProcess) {
    this.#proc = proc;
    this.#stderr = new Response(proc.stderr).text();
    this.#done = (async () => {
      let buf = "";
      for await (const chunk of proc.stdout) {
        buf += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.#lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
    })();
  }

  get pid(): number {
    return this.#proc.pid;
  }

  get status(): Promise<Deno.CommandStatus> {
    return this.#proc.status;
  }

  static async start(
    env: Record<string, string>,
  ): Promise<Instance> {
    const proc = new Deno.Command(Deno.execPath(), {
      args: wrapperArgs([
        "--",
        APP,
        "--grandchild",
        "--sh-grandchild",
        "--static-grandchild",
        APP_STATIC,
        ...SECRET_KEYS,
      ]),
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const inst = new Instance(proc);
    const deadline = Date.now() + START_TIMEOUT_MS;
    try {
      for (;;) {
        const line = inst.#lines.find((l) => l.startsWith('{"app":'));
        if (line) {
          inst.info = JSON.parse(line);
          return inst;
        }
        const exited = await Promise.race([proc.status, sleep(20)]);
        if (exited || Date.now() > deadline) {
          throw new Error(
            `the wrapper did not start the app (${
              exited ? `exit ${exited.code}` : "timeout"
            })`,
          );
        }
      }
    } catch (e) {
      await inst.stop();
      throw new Error(
        `${(e as Error).message}; wrapper stderr:\n${await inst.#stderr}`,
      );
    }
  }

  /** Kills what is left of the tree (grandchildren, app, wrapper). */
  async stop(): Promise<void> {
    const i = this.info;
    for (
      const pid of [
        i?.grandchild,
        i?.sh_grandchild,
        i?.static_grandchild,
        i?.app,
      ]
    ) {
      if (pid) killQuietly(pid, "SIGKILL");
    }
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* exited */ }
    await Promise.race([this.#proc.status, sleep(EXIT_TIMEOUT_MS)]);
    await Promise.race([this.#done, sleep(1000)]);
    await Promise.race([this.#stderr, sleep(1000)]);
  }
}

function killQuietly(pid: number, sig: Deno.Signal) {
  try {
    Deno.kill(pid, sig);
  } catch { /* gone */ }
}

/** The facts one ct-rootattack run reported. */
interface AttackFacts {
  killed: boolean;
  lastStep?: string;
  denial?: string;
  hits: number;
  items: Record<string, unknown>[];
  error?: string;
}

async function runAttack(
  vector: string,
  pid: number,
  markers: string[],
  enforcer: Enforcer | undefined,
  addr = "0",
  fds: number[] = [],
): Promise<AttackFacts> {
  const before = enforcer?.out.lines.length ?? 0;
  const proc = new Deno.Command(ROOTATTACK, {
    args: [vector, String(pid), addr, fds.join(",")],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = proc.stdin.getWriter();
  await w.write(enc.encode(markers.join("\n") + "\n"));
  await w.close();
  const timer = setTimeout(() => {
    try {
      proc.kill("SIGKILL");
    } catch { /* exited */ }
  }, ATTACK_TIMEOUT_MS);
  const out = await proc.output();
  clearTimeout(timer);
  const lines = dec.decode(out.stdout).split("\n").filter((l) =>
    l.startsWith("{")
  ).map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = lines.filter((l) => "step" in l);
  const final = lines.find((l) => "vector" in l);
  const facts: AttackFacts = {
    killed: out.signal === "SIGKILL",
    lastStep: steps.at(-1)?.step as string | undefined,
    hits: Number(final?.hits ?? 0),
    items: (final?.items as Record<string, unknown>[]) ?? [],
  };
  if (!final && !facts.killed) {
    facts.error = `exit ${out.code} ${out.signal ?? ""} ${
      dec.decode(out.stderr).slice(0, 200)
    }`;
  }
  if (enforcer && facts.killed) {
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const ev = enforcer.out.lines.slice(before).find((l) =>
        l.event === "denial" &&
        (l.accessor as Record<string, unknown>)?.pid === proc.pid
      );
      if (ev) {
        facts.denial = `${ev.action} ${ev.what}`;
        break;
      }
      await sleep(20);
    }
  }
  return facts;
}

/** Turns what an attack reported into a cell's outcome and detail. */
function judge(f: AttackFacts, vector: VectorId): Judged {
  if (f.killed) {
    const by = f.denial ? `enforcer: ${f.denial}` : "no denial event seen";
    return {
      result: "blocked",
      hits: 0,
      short: `killed (${f.denial?.replace(/^killed /, "") ?? "SIGKILL"})`,
      detail: `killed (SIGKILL) at \`${
        (f.lastStep ?? "start").replace(/\/proc\/\d+/, "/proc/<pid>")
      }\` (${by})`,
    };
  }
  if (f.error) {
    return {
      result: "n/a",
      hits: 0,
      short: "attack failed",
      detail: `attack failed: ${f.error}`,
    };
  }
  const detail = f.items.map(describeItem).join("; ");
  if (f.hits > 0) {
    const where = [
      ...new Set(
        f.items.filter((i) => Number(i.hits) > 0).map((i) =>
          String(i.kind ? i.target : i.what)
        ),
      ),
    ];
    return {
      result: "recovered",
      hits: f.hits,
      short: `${f.hits} markers (${where.join(", ")})`,
      detail,
    };
  }
  if (vector === "coredump_filter") {
    const err = f.items.find((i) => i.err)?.err;
    return err
      ? { result: "blocked", hits: 0, short: String(err), detail }
      : { result: "allowed", hits: 0, short: "written (0x1ff)", detail };
  }
  const errs = f.items.filter((i) =>
    i.err && i.err !== "EBADF" && i.err !== "ENOENT"
  ).map((i) => {
    const what = String(i.what);
    const on = /secretmem|region/.test(what)
      ? "region"
      : what.startsWith("fd ")
      ? what
      : what.replace(/^open /, "");
    return `${i.err} (${on})`;
  });
  const uniq = [...new Set(errs)].filter((e) => !/\[vvar/.test(e));
  return {
    result: "blocked",
    hits: 0,
    short: uniq.length ? `${uniq.join(", ")}; 0 markers` : "0 markers",
    detail,
  };
}

function describeItem(i: Record<string, unknown>): string {
  const what = String(i.what ?? "");
  if ("kind" in i) {
    const errs = [
      i.read_err && `read ${i.read_err}`,
      i.mmap_err && `mmap ${i.mmap_err}`,
    ].filter(Boolean).join(", ");
    const hits = "hits" in i ? `, ${i.hits} markers` : "";
    return `${what}: ${i.target}${errs ? ` (${errs})` : ""}${hits}`;
  }
  if ("count" in i) return `${what}: ${i.count}, 0 markers`;
  if (i.err === "EBADF" || i.err === "ENOENT") {
    return `${what}: ${i.err} (closed since the app listed it)`;
  }
  if ("err" in i && !Number(i.bytes)) return `${what}: ${i.err}`;
  if (what.startsWith("write ")) return `${what}: written`;
  const err = i.err ? `, then ${i.err}` : "";
  return `${what}: ${i.bytes} bytes read, ${i.hits} markers${err}`;
}

// ------------------------------------------------------------ core dumps

const CORE_PATTERN = "/proc/sys/kernel/core_pattern";
const SUID_DUMPABLE = "/proc/sys/fs/suid_dumpable";

/** How core_pattern sends cores. */
type CoreKind = "file" | "pipe" | "socket";

/** Where cores go, and how core_pattern is pointed there. */
interface CoreDir {
  dir: string;
  /** `file`: `DIR/core.%P` (RLIMIT_CORE applies); `pipe`: a helper that
   * writes `DIR/core.%P` (the kernel ignores RLIMIT_CORE for pipes, except
   * that it aborts at exactly 1); `socket`: `@DIR/core.sock`, a listener
   * here storing `DIR/core.<pid>` (Linux 6.16+; RLIMIT_CORE ignored).
   * Throws when the kernel refuses the pattern. */
  use(kind: CoreKind): void;
  /** The socket listener stores the next core it receives as `pid`'s. */
  expect(pid: number): void;
}

/** Runs `fn` with a fresh 0700 temp dir for cores; core_pattern and
 * suid_dumpable are restored and the dir removed afterwards. */
async function withCoreDir<T>(fn: (c: CoreDir) => Promise<T>): Promise<T> {
  const pattern = Deno.readTextFileSync(CORE_PATTERN);
  const suid = Deno.readTextFileSync(SUID_DUMPABLE);
  const dir = Deno.makeTempDirSync({ prefix: "ct-attack-cores-" });
  Deno.chmodSync(dir, 0o700);
  const helper = `${dir}/catcore.sh`;
  // The helper runs as root in the initial namespaces, the core on stdin.
  Deno.writeTextFileSync(
    helper,
    `#!/bin/sh\n: > "${dir}/started.$1"\ncat > "${dir}/core.$1.tmp"\n` +
      `mv "${dir}/core.$1.tmp" "${dir}/core.$1"\n`,
  );
  Deno.chmodSync(helper, 0o700);
  let listener: Deno.UnixListener | undefined;
  let serving: Promise<void> | undefined;
  let expected = 0;
  const serve = async (l: Deno.UnixListener) => {
    for await (const conn of l) {
      const pid = expected;
      Deno.writeTextFileSync(`${dir}/started.${pid}`, "");
      const tmp = `${dir}/core.${pid}.tmp`;
      const f = await Deno.open(tmp, { write: true, create: true });
      await conn.readable.pipeTo(f.writable).catch(() => {});
      Deno.renameSync(tmp, `${dir}/core.${pid}`);
    }
  };
  try {
    return await fn({
      dir,
      use: (kind) => {
        if (kind === "socket" && !listener) {
          listener = Deno.listen({
            transport: "unix",
            path: `${dir}/core.sock`,
          });
          serving = serve(listener).catch(() => {});
        }
        Deno.writeTextFileSync(
          CORE_PATTERN,
          kind === "file"
            ? `${dir}/core.%P`
            : kind === "pipe"
            ? `|${helper} %P`
            : `@${dir}/core.sock`,
        );
      },
      expect: (pid) => expected = pid,
    });
  } finally {
    Deno.writeTextFileSync(CORE_PATTERN, pattern);
    Deno.writeTextFileSync(SUID_DUMPABLE, suid);
    listener?.close();
    await serving;
    Deno.removeSync(dir, { recursive: true });
  }
}

function procGone(pid: number): boolean {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return /^State:\s+[ZX]/m.test(s);
  } catch {
    return true;
  }
}

function countMarkers(bytes: Uint8Array, markers: string[]): number {
  // latin1 keeps every byte as one char, so indexOf works on binary
  const text = new TextDecoder("latin1").decode(bytes);
  let hits = 0;
  for (const m of markers) {
    for (let i = text.indexOf(m); i >= 0; i = text.indexOf(m, i + 1)) hits++;
  }
  return hits;
}

/** What the attacker does to RLIMIT_CORE first. */
type CorePre = "prlimit_core" | "prlimit_soft0" | "none";

/** Changes RLIMIT_CORE as `pre` says, sends `sig`, waits for the death,
 * scans the core. */
async function coreDump(
  pid: number,
  sig: Deno.Signal,
  cores: CoreDir,
  markers: string[],
  enforcer: Enforcer | undefined,
  waitExit: Promise<unknown> | undefined,
  pre: CorePre = "prlimit_core",
): Promise<Judged> {
  const dir = cores.dir;
  let limDetail = "RLIMIT_CORE left as it was";
  if (pre !== "none") {
    const lim = await runAttack(pre, pid, markers, enforcer);
    const done = pre === "prlimit_core"
      ? "RLIMIT_CORE raised"
      : "soft RLIMIT_CORE lowered to 0";
    limDetail = lim.killed
      ? "prlimit killed"
      : lim.items.some((i) => i.err)
      ? `prlimit(RLIMIT_CORE) ${lim.items.find((i) => i.err)?.err}`
      : done;
  }
  cores.expect(pid);
  // From another process, as root would: the enforcer's tracepoint tier
  // kills whoever sends a core-dumping signal to a protected process.
  const sender = await new Deno.Command("kill", {
    args: ["-s", sig.replace(/^SIG/, ""), String(pid)],
    stdout: "null",
    stderr: "null",
  }).output();
  const sent = sender.signal === "SIGKILL"
    ? `${sig} sent, the sender killed`
    : sender.success
    ? `${sig} delivered`
    : `${sig} refused`;
  const deadline = Date.now() + EXIT_TIMEOUT_MS;
  if (waitExit) await Promise.race([waitExit, sleep(EXIT_TIMEOUT_MS)]);
  while (!procGone(pid) && Date.now() < deadline) await sleep(20);
  // A pipe helper that started is still writing: wait for its rename.
  const exists = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (exists(`${dir}/started.${pid}`)) {
    while (!exists(`${dir}/core.${pid}`) && Date.now() < deadline) {
      await sleep(20);
    }
  }
  const found = [...Deno.readDirSync(dir)].filter((e) =>
    e.name === `core.${pid}`
  );
  if (found.length === 0) {
    return {
      result: "blocked",
      hits: 0,
      short: "no core written",
      detail: `${limDetail}; ${sent}; no core written`,
    };
  }
  const path = `${dir}/${found[0].name}`;
  const bytes = Deno.readFileSync(path);
  const hits = countMarkers(bytes, markers);
  Deno.removeSync(path);
  return {
    result: hits > 0 ? "recovered" : "blocked",
    hits,
    short: `core written, ${hits} markers`,
    detail: `${limDetail}; core written (${
      Math.round(bytes.length / 1024)
    } KiB), ${hits} markers`,
  };
}

// ------------------------------------------------------------ the matrix

interface Ctx {
  bao: OpenBao;
  markers: string[];
  enforcer?: Enforcer;
  col: Column;
  cells: Cell[];
  appKeys: Record<Mode, string>;
  log: (s: string) => void;
}

function wrapperEnv(ctx: Ctx): Record<string, string> {
  return ctx.bao.env({
    PATH: "/usr/bin:/bin",
    HOME: "/root",
    CLOUDTASER_SECRET_PATHS: "secret/data/attacks/db,secret/data/attacks/api",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD,user=DB_USER;key=API_KEY",
    CLOUDTASER_DELIVERY: ctx.col.mode,
    CLOUDTASER_ENFORCER_SOCKET: ctx.enforcer?.socket ??
      "/nonexistent/cloudtaser-enforcer.sock",
  });
}

function record(
  ctx: Ctx,
  vector: VectorId,
  target: Target,
  r: Judged,
) {
  ctx.cells.push({ vector, target, ...ctx.col, ...r });
  ctx.log(
    `  ${ctx.col.mode}${ctx.col.enforcer ? "+enforcer" : ""} ${vector} ` +
      `${target}: ${r.result} (${r.hits} markers)`,
  );
}

/** The non-destructive vectors, on one live instance. */
async function readVectors(ctx: Ctx): Promise<void> {
  const inst = await Instance.start(wrapperEnv(ctx));
  try {
    const i = inst.info;
    ctx.appKeys[ctx.col.mode] = i.keys.map((k) => `${k.key}: ${k.where}`)
      .join(", ");
    const targets: Record<
      Target,
      { pid: number; region: string | null; fds: number[] }
    > = {
      wrapper: { pid: i.wrapper, region: i.wrapper_region, fds: i.wrapper_fds },
      app: { pid: i.app, region: i.app_region, fds: i.app_fds },
      grandchild: { pid: i.grandchild, region: i.grandchild_region, fds: [] },
      sh_grandchild: {
        pid: i.sh_grandchild,
        region: i.sh_grandchild_region,
        fds: [],
      },
      static_grandchild: { pid: i.static_grandchild, region: null, fds: [] },
    };
    if (i.wrapper !== inst.pid) {
      throw new Error(
        `the app's parent ${i.wrapper} is not the wrapper ${inst.pid}`,
      );
    }
    const attack = async (vector: VectorId, target: Target) => {
      const t = targets[target];
      if (vector === "layout") {
        return record(ctx, vector, target, judgeLayout(i, target));
      }
      if (!t.pid) {
        // The program was never started: its exec was refused.
        const err = target === "static_grandchild" ? i.static_error : null;
        return record(ctx, vector, target, {
          result: err ? "blocked" : "n/a",
          hits: 0,
          short: err ? `exec refused (${err})` : "not started",
          detail: err
            ? `the app's exec of a static program failed with ${err}: ` +
              "it cannot load the interposer and would get its secrets in " +
              "its environment"
            : "the app did not start this program",
        });
      }
      if (vector === "mem" && !t.region) {
        return record(ctx, vector, target, {
          result: "n/a",
          hits: 0,
          short: "no region",
          detail: "no /secretmem mapping in this process (see the scan row)",
        });
      }
      const addr = t.region ?? (target === "app" ? i.app_stack : "0");
      const f = await runAttack(
        vector,
        t.pid,
        ctx.markers,
        ctx.enforcer,
        addr,
        t.fds,
      );
      const j = judge(f, vector);
      if (!t.region) {
        // the address was a page of the app's stack, not a region
        j.detail = j.detail.replaceAll(" region:", " at a stack page:");
        j.short = j.short.replaceAll(" region", " at a stack page");
      }
      record(ctx, vector, target, j);
    };
    for (const row of ROWS) {
      if (row.id.startsWith("core_")) continue;
      await attack(row.id, row.target);
    }
  } finally {
    await inst.stop();
  }
}

/** The region's mapping as ct-app read it from /proc/<pid>/maps: a stray
 * write faults when it is read-only between PROT_NONE pages. */
function judgeLayout(i: AppInfo, target: Target): Judged {
  const l = target === "wrapper" ? i.wrapper_layout : i.app_layout;
  if (!l) {
    return {
      result: "n/a",
      hits: 0,
      short: "no region",
      detail: "no /secretmem mapping in this process",
    };
  }
  const text = `${l.perms} between ${l.before || "no VMA"} and ${
    l.after || "no VMA"
  }`;
  const guarded = l.before.startsWith("---") && l.after.startsWith("---");
  const readOnly = l.perms.startsWith("r--");
  return {
    result: guarded && readOnly ? "blocked" : "allowed",
    hits: 0,
    short: text,
    detail: `/proc/<pid>/maps: the /secretmem VMA is ${text}` +
      (readOnly ? "" : "; writable: a stray write lands in it") +
      (guarded ? "" : "; no guard page on one side"),
  };
}

/** One core-dump row: how the core leaves, what the attacker does first,
 * the signal, and who gets it, in order (the wrapper first: the app
 * survives it, orphaned). */
interface CorePlan {
  vector: VectorId;
  sig: Deno.Signal;
  kind: CoreKind;
  pre: CorePre;
  targets: Target[];
}

const CORE_PLANS: CorePlan[] = [
  {
    vector: "core_segv",
    sig: "SIGSEGV",
    kind: "file",
    pre: "prlimit_core",
    targets: ["wrapper", "app"],
  },
  {
    vector: "core_pipe",
    sig: "SIGABRT",
    kind: "pipe",
    pre: "prlimit_core",
    targets: ["wrapper", "app"],
  },
  {
    vector: "core_escalated",
    sig: "SIGSEGV",
    kind: "pipe",
    pre: "prlimit_core",
    targets: ["wrapper", "app"],
  },
  {
    vector: "core_lowered",
    sig: "SIGABRT",
    kind: "pipe",
    pre: "prlimit_soft0",
    targets: ["wrapper", "app", "grandchild", "sh_grandchild"],
  },
  {
    vector: "core_socket",
    sig: "SIGABRT",
    kind: "socket",
    pre: "none",
    targets: ["wrapper", "app", "grandchild"],
  },
  // ct-app answers SIGUSR2 with abort(): a crash of its own.
  {
    vector: "core_own",
    sig: "SIGUSR2",
    kind: "pipe",
    pre: "none",
    targets: ["app"],
  },
];

/** One instance per core-dump row. */
async function coreVectors(ctx: Ctx, cores: CoreDir): Promise<void> {
  for (const { vector, sig, kind, pre, targets } of CORE_PLANS) {
    const inst = await Instance.start(wrapperEnv(ctx));
    try {
      try {
        cores.use(kind);
      } catch (e) {
        for (const target of targets) {
          record(ctx, vector, target, {
            result: "n/a",
            hits: 0,
            short: "core_pattern refused",
            detail: `the kernel refused a ${kind} core_pattern: ${
              (e as Error).message
            }`,
          });
        }
        continue;
      }
      const i = inst.info;
      let prefix = kind === "file" ? "" : `core_pattern a ${kind}; `;
      if (vector === "core_escalated") {
        const notes = [];
        for (
          const [who, pid] of [["wrapper", i.wrapper], ["app", i.app]] as const
        ) {
          const f = await runAttack(
            "coredump_filter",
            pid,
            ctx.markers,
            ctx.enforcer,
          );
          const err = f.items.find((x) => x.err)?.err;
          notes.push(
            `${who} coredump_filter ${
              f.killed ? "write killed" : err ? String(err) : "0x1ff"
            }`,
          );
        }
        Deno.writeTextFileSync(SUID_DUMPABLE, "2");
        prefix += `suid_dumpable=2, ${notes.join(", ")}; `;
      }
      const pids: Partial<Record<Target, number>> = {
        wrapper: i.wrapper,
        app: i.app,
        grandchild: i.grandchild,
        sh_grandchild: i.sh_grandchild,
      };
      for (const target of targets) {
        const pid = pids[target];
        if (!pid) {
          record(ctx, vector, target, {
            result: "n/a",
            hits: 0,
            short: "not started",
            detail: "the app did not start this program",
          });
          continue;
        }
        const r = await coreDump(
          pid,
          sig,
          cores,
          ctx.markers,
          ctx.enforcer,
          target === "wrapper" ? inst.status : undefined,
          pre,
        );
        record(ctx, vector, target, { ...r, detail: prefix + r.detail });
      }
    } finally {
      await inst.stop();
      Deno.writeTextFileSync(SUID_DUMPABLE, "0");
    }
  }
}

const ALL_COLUMNS: Column[] = [
  { mode: "env", enforcer: false },
  { mode: "interposer", enforcer: false },
  { mode: "env", enforcer: true },
  { mode: "interposer", enforcer: true },
];

/** Runs the matrix; every process, the enforcer, OpenBao and core_pattern
 * are cleaned up or restored before it returns or throws. */
export async function runMatrix(
  opts: MatrixOptions = {},
): Promise<MatrixReport> {
  const log = opts.log ?? (() => {});
  const columns = opts.columns ?? ALL_COLUMNS;
  const t0 = performance.now();
  const cells: Cell[] = [];
  const appKeys = {} as Record<Mode, string>;
  let tier = "not run";
  let lsmUnavailable: string | undefined;
  const bao = await startOpenBao();
  try {
    const markers = [`CTATK-db-${hex(16)}`, `CTATK-api-${hex(16)}`];
    await put(bao, "secret/data/attacks/db", {
      password: markers[0],
      user: "app",
    });
    await put(bao, "secret/data/attacks/api", { key: markers[1] });
    // The mTLS client key is a secret too: a line of its PEM body.
    const keyLine = Deno.readTextFileSync(bao.clientKey).split("\n")
      .find((l) => /^[A-Za-z0-9+/]{40,}$/.test(l));
    if (keyLine) markers.push(keyLine.slice(0, 40));
    for (const withEnforcer of [false, true]) {
      const cols = columns.filter((c) => c.enforcer === withEnforcer);
      if (cols.length === 0) continue;
      const enforcer = withEnforcer ? await Enforcer.start() : undefined;
      try {
        if (enforcer) {
          tier = String(enforcer.ready.tier);
          lsmUnavailable = enforcer.ready.lsm_unavailable as string | undefined;
        }
        for (const col of cols) {
          log(`${col.mode}, enforcer ${withEnforcer ? tier : "off"}: reads`);
          const ctx = { bao, markers, enforcer, col, cells, appKeys, log };
          await readVectors(ctx);
        }
        await withCoreDir(async (cores) => {
          for (const col of cols) {
            log(`${col.mode}, enforcer ${withEnforcer ? tier : "off"}: cores`);
            await coreVectors(
              { bao, markers, enforcer, col, cells, appKeys, log },
              cores,
            );
          }
        });
      } finally {
        await enforcer?.stop();
      }
    }
  } finally {
    await bao.stop();
  }
  return {
    date: new Date().toISOString().slice(0, 10),
    kernel: Deno.osRelease(),
    tier,
    lsmUnavailable,
    cells,
    durationMs: performance.now() - t0,
    appKeys,
  };
}
