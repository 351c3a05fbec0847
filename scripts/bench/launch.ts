/**
 * One start of one contestant under ct-bench-launch: the start-up time is
 * the app's first-instruction stamp minus the launcher's start stamp (both
 * CLOCK_REALTIME, nanoseconds). With `hold`, the app stays up while the
 * resident parent's /proc/<ppid>/status is read, then gets SIGTERM.
 * Every wait is bounded; on a timeout the launcher's process group is killed.
 */
import type { BenchTools } from "./native.ts";

/** What ct-bench-app wrote at its first instruction. */
export interface Stamp {
  ns: bigint;
  pid: number;
  ppid: number;
  /** Environment entries with the secrets' prefix. */
  count: number;
}

/** The app's parent while the app runs, when it is not the launcher. */
export interface Resident {
  name: string;
  rssKb: number;
  threads: number;
}

/** One start. */
export interface LaunchResult {
  /** Start to the app's first instruction, ms; NaN when the app never ran. */
  startMs: number;
  /** The launcher's exit report: the command's code, or 128+N. */
  code: number;
  /**
   * User + system CPU of everything the command started, ms (the launcher's
   * getrusage of its waited-for children): the start up to the app's first
   * instruction plus the app's tiny run and the exits after it, which the
   * `direct` floor measures alone. NaN when not reported.
   */
  cpuMs: number;
  stamp?: Stamp;
  /** Set with `hold`: null when nothing stays between launcher and app. */
  resident?: Resident | null;
  stderr: string;
  timedOut: boolean;
}

/** Options of {@linkcode launchOnce}. */
export interface LaunchOptions {
  tools: BenchTools;
  /** The contestant's command; it must end in the app's command line. */
  argv: string[];
  env: Record<string, string>;
  /** Where the app writes its stamp (given to the app by `argv`). */
  stampFile: string;
  /** Read the resident parent while the app holds (app given HOLD_MS). */
  hold?: boolean;
  /** CLOCK_REALTIME ns to start at (many launchers at once). */
  at?: bigint;
  /** @default 60000 */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readStamp(path: string): Stamp | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
  const m = text.match(/^(\d+) (\d+) (\d+) (\d+)\n$/);
  if (!m) return undefined;
  return {
    ns: BigInt(m[1]),
    pid: Number(m[2]),
    ppid: Number(m[3]),
    count: Number(m[4]),
  };
}

function readStatus(pid: number): Resident | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    const field = (k: string) => s.match(new RegExp(`^${k}:\\s*(\\S+)`, "m"));
    return {
      name: field("Name")?.[1] ?? "?",
      rssKb: Number(field("VmRSS")?.[1] ?? NaN),
      threads: Number(field("Threads")?.[1] ?? NaN),
    };
  } catch {
    return undefined;
  }
}

async function drain(s: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const c of s.pipeThrough(new TextDecoderStream())) text += c;
  return text;
}

/**
 * Runs `argv` once and measures it.
 *
 * @example
 * ```ts
 * const r = await launchOnce({ tools, argv: [tools.app, stamp, "BENCH_"], env: {}, stampFile: stamp });
 * console.log(r.startMs);
 * ```
 */
export async function launchOnce(opts: LaunchOptions): Promise<LaunchResult> {
  try {
    Deno.removeSync(opts.stampFile);
  } catch { /* not there */ }
  const args = [
    ...(opts.at ? ["--at", String(opts.at)] : []),
    "--",
    ...opts.argv,
  ];
  const child = new Deno.Command(opts.tools.launch, {
    args,
    env: opts.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs ?? 60000);
  let resident: Resident | null | undefined;
  try {
    const out = drain(child.stdout);
    const err = drain(child.stderr);
    if (opts.hold) {
      let exited = false;
      child.status.then(() => exited = true);
      let stamp: Stamp | undefined;
      while (!(stamp = readStamp(opts.stampFile)) && !exited && !timedOut) {
        await sleep(5);
      }
      if (stamp) {
        resident = stamp.ppid === child.pid
          ? null
          : readStatus(stamp.ppid) ?? null;
        try {
          Deno.kill(stamp.pid, "SIGTERM");
        } catch { /* it exited */ }
      }
    }
    const [text, stderr] = [await out, await err];
    await child.status;
    const m = text.trim().match(/^(\d+) (\d+) (-?\d+)$/);
    const stamp = readStamp(opts.stampFile);
    const startMs = m && stamp ? Number(stamp.ns - BigInt(m[1])) / 1e6 : NaN;
    return {
      startMs,
      code: m ? Number(m[2]) : -1,
      cpuMs: m && Number(m[3]) >= 0 ? Number(m[3]) / 1000 : NaN,
      stamp,
      resident,
      stderr,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    try {
      // Anything the contestant left behind in the group.
      Deno.kill(-child.pid, "SIGKILL");
    } catch { /* the group is empty */ }
  }
}
