/**
 * The enforcer's cost per open() of an ordinary file, per trivial syscall,
 * per harmless bpf() call and per perf_event_open(), with and without it
 * running. Under the tracepoint fallback every syscall on the node passes
 * its sys_enter/sys_exit programs (bpf() and perf_event_open() get a closer
 * look); under BPF LSM only file_open, bpf() and perf_event_open (plus
 * ptrace checks) do. Root only; the enforcer's pins go to a private bpffs
 * that is removed afterwards.
 *
 * Run: `deno run -A scripts/bench/open.ts` (after `make -C c`).
 *
 * @module
 */
import { Enforcer } from "../../tests/support/enforcer.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const BENCH = `${REPO}build/bench/ct-bench_open`;
const REGISTER = `${REPO}build/enforcer/ct-register`;

/** Per-call costs in nanoseconds. */
export interface OpenCost {
  openCloseNs: number;
  getppidNs: number;
  /** bpf(BPF_PROG_GET_NEXT_ID) that finds nothing */
  bpfNs: number;
  /** perf_event_open()+close() of a software counter on itself; null where
   * it is refused (a protected process while the enforcer runs) */
  perfNs: number | null;
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
    ? [REGISTER, [socket, "--", BENCH, file, String(n), "--no-perf"]]
    : [BENCH, [file, String(n)]];
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${dec.decode(out.stderr)}`);
  const line = dec.decode(out.stdout).trim().split("\n").pop()!;
  const r = JSON.parse(line);
  return {
    openCloseNs: r.open_close_ns,
    getppidNs: r.getppid_ns,
    bpfNs: r.bpf_ns,
    perfNs: r.perf_ns,
  };
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
    bpfNs: mid(all.map((c) => c.bpfNs)),
    perfNs: all[0].perfNs === null ? null : mid(all.map((c) => c.perfNs!)),
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
  const enforcer = await Enforcer.start();
  try {
    // nothing is protected yet: what every process on the node pays
    const withEnforcer = await median(runs, n);
    const protectedProcess = await median(runs, n, enforcer.socket);
    const overheadNs = withEnforcer.openCloseNs - without.openCloseNs;
    return {
      tier: String(enforcer.ready.tier),
      without,
      withEnforcer,
      protectedProcess,
      overheadNs: Math.round(overheadNs),
      overheadPct: Math.round((overheadNs / without.openCloseNs) * 1000) / 10,
    };
  } finally {
    await enforcer.stop();
  }
}

if (import.meta.main) {
  const r = await benchOpen();
  console.log(JSON.stringify(r, null, 2));
}
