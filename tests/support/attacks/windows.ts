/**
 * The two windows of hole 1, measured on the real wrapper for
 * `docs/security.md`: how long each region fd exists (from `memfd_secret`
 * to its `close`), and how long the hand-over's copy exists (from its
 * `memfd_secret` to the `execveat` of the supervisor). Measured with
 * `strace --seccomp-bpf -ff -ttt` tracing only connect, memfd_secret,
 * close and execveat: the syscalls between them (ftruncate, mmap, the
 * copy) run untraced at full speed, but each traced call still costs a
 * stop, so the numbers are upper bounds.
 */
import { readTrace } from "../strace.ts";
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
  /** Runs where the wrapper asked the enforcer before its first region. */
  registeredFirst: number;
}

const RUNS = 5;

/** Runs the wrapper `RUNS` times under strace; `env` configures it. */
export async function measureWindows(
  bao: OpenBao,
  env: Record<string, string>,
): Promise<Windows> {
  const w: Windows = {
    runs: 0,
    regionFdUs: [],
    handOverUs: [],
    registeredFirst: 0,
  };
  const socket = "/nonexistent/cloudtaser-enforcer.sock";
  for (let r = 0; r < RUNS; r++) {
    const dir = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command("strace", {
        args: [
          "--seccomp-bpf",
          "-ff",
          "-ttt",
          "-qq",
          "-o",
          `${dir}/trace`,
          "-e",
          "trace=connect,memfd_secret,close,execveat",
          "-s",
          "64",
          Deno.execPath(),
          ...wrapperArgs(["--", "/bin/true"]),
        ],
        env: bao.env({ ...env, CLOUDTASER_ENFORCER_SOCKET: socket }),
        clearEnv: true,
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.code !== 0) continue;
      const calls = await readTrace(dir, "trace");
      const connect = calls.findIndex((c) =>
        c.name === "connect" && c.args.includes(socket)
      );
      const first = calls.findIndex((c) => c.name === "memfd_secret");
      if (connect >= 0 && connect < first) w.registeredFirst++;
      calls.forEach((c, i) => {
        if (c.name !== "memfd_secret" || !/^\d+$/.test(c.ret)) return;
        const end = calls.slice(i + 1).find((x) =>
          x.tid === c.tid &&
          ((x.name === "close" && x.args === c.ret) || x.name === "execveat")
        );
        if (!end) return;
        const us = Math.round((end.at - c.at) * 1e6);
        (end.name === "execveat" ? w.handOverUs : w.regionFdUs).push(us);
      });
      w.runs++;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
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
