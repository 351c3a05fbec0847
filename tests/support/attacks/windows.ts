/**
 * The two windows of hole 1, measured on the real wrapper for
 * `docs/security.md`: how long each region fd exists (from `memfd_secret`
 * to its `close`), and how long the hand-over's copy exists (from its
 * `memfd_secret` to the `execveat` of the supervisor, and on to the
 * supervisor's `close` of it once mapped). Measured with `perf trace -e
 * connect,memfd_secret,close,execveat` (syscall tracepoints: no ptrace
 * tracer, so the wrapper runs as configured in production); the calls between
 * them run untraced, and each traced one costs a little, so these are
 * upper bounds. Run before the matrix starts its enforcer (perf events are
 * what it refuses).
 */
import { type Call, onFd, perfTrace } from "../perf_trace.ts";
import { wrapperArgs } from "../wrapper.ts";
import type { OpenBao } from "../openbao/types.ts";

/** What the runs measured (microseconds). */
export interface Windows {
  runs: number;
  /** Each region fd of the start-up (the secrets' region, the token's),
   * memfd_secret to close, every run. */
  regionFdUs: number[];
  /** The hand-over's copy, memfd_secret to execveat, every run. */
  handOverUs: number[];
  /** The same copy until the supervisor closed it (the fd's whole life). */
  handOverClosedUs: number[];
  /** Runs where the wrapper asked the enforcer before its first region. */
  registeredFirst: number;
  /** Why a run did not count (the exit code). */
  failed: string[];
}

const RUNS = 5;

/** One run's windows, from its calls. */
function windowsOf(calls: Call[], socket: string, w: Windows): void {
  // perf prints no socket path: the enforcer's connect is the one whose
  // address is exactly that path (sa_family + path + NUL)
  const connect = calls.findIndex((c) =>
    c.name === "connect" &&
    c.args.endsWith(`addrlen: ${2 + socket.length + 1}`)
  );
  const first = calls.findIndex((c) => c.name === "memfd_secret");
  if (connect >= 0 && connect < first) w.registeredFirst++;
  calls.forEach((c, i) => {
    if (c.name !== "memfd_secret" || !/^\d+$/.test(c.ret)) return;
    const after = calls.slice(i + 1).filter((x) => x.tid === c.tid);
    const end = after.findIndex((x) =>
      (x.name === "close" && onFd(x, c.ret)) || x.name === "execveat"
    );
    if (end < 0) return;
    const us = (x: Call) => Math.round((x.at - c.at) * 1000);
    if (after[end].name !== "execveat") {
      w.regionFdUs.push(us(after[end]));
      return;
    }
    w.handOverUs.push(us(after[end]));
    const closed = after.slice(end + 1).find((x) =>
      x.name === "close" && onFd(x, c.ret)
    );
    if (closed) w.handOverClosedUs.push(us(closed));
  });
}

/** Runs the wrapper `RUNS` times under perf trace; `env` configures it. */
export async function measureWindows(
  bao: OpenBao,
  env: Record<string, string>,
): Promise<Windows> {
  const w: Windows = {
    runs: 0,
    regionFdUs: [],
    handOverUs: [],
    handOverClosedUs: [],
    registeredFirst: 0,
    failed: [],
  };
  const socket = "/nonexistent/cloudtaser-enforcer.sock";
  for (let r = 0; r < RUNS; r++) {
    let out;
    try {
      out = await perfTrace(
        [Deno.execPath(), ...wrapperArgs(["--", "/bin/true"])],
        {
          env: bao.env({ ...env, CLOUDTASER_ENFORCER_SOCKET: socket }),
          events: ["connect", "memfd_secret", "close", "execveat"],
        },
      );
    } catch (e) {
      w.failed.push((e as Error).message);
      continue;
    }
    if (out.code !== 0) {
      w.failed.push(`exit ${out.code}`);
      continue;
    }
    windowsOf(out.calls, socket, w);
    w.runs++;
  }
  return w;
}

/** "min / median / max" of a list of microseconds, in ms where large. */
export function spread(us: number[]): string {
  if (us.length === 0) return "not measured";
  const s = [...us].sort((a, b) => a - b);
  const fmt = (n: number) =>
    n >= 1000 ? `${(n / 1000).toFixed(1)} ms` : `${n} us`;
  return `${fmt(s[0])} / ${fmt(s[Math.floor(s.length / 2)])} / ${
    fmt(s.at(-1)!)
  } (min / median / max of ${s.length})`;
}
