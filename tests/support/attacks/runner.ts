/**
 * Runs the attacks: a live wrapper running ct-app (an {@link Instance}), one
 * ct-rootattack run per vector, and the recording of each judged cell.
 */
import type { Enforcer } from "../enforcer.ts";
import type { OpenBao } from "../openbao/server.ts";
import { wrapperArgs } from "../wrapper.ts";
import { APP, APP_STATIC, ROOTATTACK } from "./binaries.ts";
import type { Cell, Column, Judged, Mode, Target, VectorId } from "./table.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Permissions of a region's VMA and of the VMAs right before and after. */
interface Layout {
  perms: string;
  before: string;
  after: string;
}

/** What ct-app reports once it runs. */
export interface AppInfo {
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
export const EXIT_TIMEOUT_MS = 10_000;

export const sleep = (ms: number): Promise<undefined> =>
  new Promise((r) => setTimeout(() => r(undefined), ms));

export function hex(n: number): string {
  return [...crypto.getRandomValues(new Uint8Array(n))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A live wrapper running ct-app (which runs a grandchild). */
export class Instance {
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
export interface AttackFacts {
  killed: boolean;
  lastStep?: string;
  denial?: string;
  hits: number;
  items: Record<string, unknown>[];
  error?: string;
  /** The `tokens` vector's finds: credentials, never recorded or printed. */
  tokens?: string[];
}

export async function runAttack(
  vector: string,
  pid: number,
  markers: string[],
  enforcer: Enforcer | undefined,
  addr = "0",
  fds: readonly (number | "all")[] = [],
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
    tokens: final?.tokens as string[] | undefined,
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

export interface Ctx {
  bao: OpenBao;
  markers: string[];
  /** What each marker is (DB_PASSWORD, ...), in the same order. */
  markerNames: string[];
  enforcer?: Enforcer;
  col: Column;
  cells: Cell[];
  appKeys: Record<Mode, string>;
  log: (s: string) => void;
}

/** What every wrapper of the matrix fetches, and its PATH. */
export const SECRETS_ENV = {
  PATH: "/usr/bin:/bin",
  HOME: "/root",
  CLOUDTASER_SECRET_PATHS: "secret/data/attacks/db,secret/data/attacks/api",
  CLOUDTASER_ENV_MAP: "password=DB_PASSWORD,user=DB_USER;key=API_KEY",
};

export function wrapperEnv(ctx: Ctx): Record<string, string> {
  return ctx.bao.env({
    ...SECRETS_ENV,
    CLOUDTASER_DELIVERY: ctx.col.mode,
    CLOUDTASER_ENFORCER_SOCKET: ctx.enforcer?.socket ??
      "/nonexistent/cloudtaser-enforcer.sock",
  });
}

export function record(
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
