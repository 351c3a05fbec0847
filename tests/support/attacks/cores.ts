/**
 * Core dumps: core_pattern set to a file, a pipe or a socket, the app's or
 * the wrapper's crash provoked, and the core searched for markers.
 */
import type { Enforcer } from "../enforcer.ts";
import {
  type Ctx,
  EXIT_TIMEOUT_MS,
  Instance,
  record,
  runAttack,
  sleep,
  wrapperEnv,
} from "./runner.ts";
import type { Judged, Target, VectorId } from "./table.ts";

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
export async function withCoreDir<T>(
  fn: (c: CoreDir) => Promise<T>,
): Promise<T> {
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
export async function coreVectors(ctx: Ctx, cores: CoreDir): Promise<void> {
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
