/**
 * The enforcer's cost per open() of an ordinary file, and per trivial
 * syscall, with and without it running. Under the tracepoint fallback every
 * syscall on the node passes its sys_enter/sys_exit programs; under BPF LSM
 * only file_open (plus ptrace checks and bpf()) do. Root only.
 *
 * Run: `deno run -A scripts/bench/open.ts` (after `make -C c`).
 *
 * @module
 */

const REPO = new URL("../../", import.meta.url).pathname;
const BENCH = `${REPO}build/enforcer/ct-bench_open`;
const ENFORCER = `${REPO}build/cloudtaser-enforcer`;
const REGISTER = `${REPO}build/enforcer/ct-register`;

/** Per-call costs in nanoseconds. */
export interface OpenCost {
  openCloseNs: number;
  getppidNs: number;
}

/** What benchOpen measured. */
export interface OpenBench {
  /** the enforcer's tier during the "with" runs: "lsm" or "tracepoint-kill" */
  tier: string;
  without: OpenCost;
  /** an unprotected process while the enforcer runs (every process pays this) */
  withEnforcer: OpenCost;
  /** a protected (registered) process while the enforcer runs */
  protectedProcess: OpenCost;
  /** open+close overhead for an unprotected process, ns and percent */
  overheadNs: number;
  overheadPct: number;
}

const dec = new TextDecoder();

async function once(n: number, socket?: string): Promise<OpenCost> {
  const file = "/etc/hostname";
  const [cmd, args] = socket
    ? [REGISTER, [socket, "--", BENCH, file, String(n)]]
    : [BENCH, [file, String(n)]];
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${dec.decode(out.stderr)}`);
  const line = dec.decode(out.stdout).trim().split("\n").pop()!;
  const r = JSON.parse(line);
  return { openCloseNs: r.open_close_ns, getppidNs: r.getppid_ns };
}

/** Median of `runs` runs of `n` calls each. */
async function median(
  runs: number,
  n: number,
  socket?: string,
): Promise<OpenCost> {
  const all: OpenCost[] = [];
  for (let i = 0; i < runs; i++) all.push(await once(n, socket));
  const mid = (xs: number[]) =>
    xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    openCloseNs: mid(all.map((c) => c.openCloseNs)),
    getppidNs: mid(all.map((c) => c.getppidNs)),
  };
}

/**
 * Measures open()+close() and getppid() without the enforcer, then with it
 * (for an unprotected and a protected process), and stops it again.
 *
 * @example
 * ```ts
 * import { benchOpen } from "./open.ts";
 * const r = await benchOpen({ runs: 5, n: 200_000 });
 * console.log(`${r.tier}: +${r.overheadNs} ns per open()`);
 * ```
 */
export async function benchOpen(
  opts: { runs?: number; n?: number } = {},
): Promise<OpenBench> {
  const runs = opts.runs ?? 5;
  const n = opts.n ?? 200_000;
  const without = await median(runs, n);
  const dir = Deno.makeTempDirSync({ prefix: "ct-bench-" });
  const socket = `${dir}/enforcer.sock`;
  const enforcer = new Deno.Command(ENFORCER, {
    args: [socket],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  try {
    const reader = enforcer.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the enforcer exited before it was ready");
      buf += value;
    }
    const ready = JSON.parse(buf.split("\n")[0]);
    // keep draining stdout so the enforcer never blocks on a full pipe
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })();
    const withEnforcer = await median(runs, n);
    const protectedProcess = await median(runs, n, socket);
    const overheadNs = withEnforcer.openCloseNs - without.openCloseNs;
    return {
      tier: ready.tier,
      without,
      withEnforcer,
      protectedProcess,
      overheadNs: Math.round(overheadNs),
      overheadPct: Math.round((overheadNs / without.openCloseNs) * 1000) / 10,
    };
  } finally {
    enforcer.kill("SIGTERM");
    await enforcer.status;
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const r = await benchOpen();
  console.log(JSON.stringify(r, null, 2));
}
