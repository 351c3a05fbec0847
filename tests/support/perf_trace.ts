/**
 * Tracing a command's syscalls from the outside with `perf trace`: the
 * kernel's syscall tracepoints, not ptrace, so the traced process has no
 * tracer (the wrapper refuses to fetch a secret under one unless
 * CLOUDTASER_ALLOW_TRACER is set, and a ptrace stop per syscall would
 * stretch the windows being measured). Used where a test measures a window
 * of syscalls.
 *
 * `perf trace` opens perf events: an enforcer that guards a process
 * refuses them (LSM) or kills the caller (tracepoint tier), so run it
 * where no enforcer protects anything (the matrix measures before it
 * starts its enforcer).
 */

/** One traced syscall. */
export interface Call {
  tid: number;
  /** milliseconds from the trace's start, at the syscall's entry */
  at: number;
  name: string;
  /** as perf prints them: `fd: 26`, `fd: 28</secretmem (deleted)>, ...` */
  args: string;
  /** the return value's first word: `28`, `0`, `-1`, `0x7f...` */
  ret: string;
}

/**
 * Runs `cmd` under `perf trace` (`events`: a syscall list for `-e`, or all)
 * and returns its exit code and calls in time order; throws when perf
 * itself was killed. Lines perf cannot time
 * (a call still running when tracing began, "[continued]") are left out.
 */
export async function perfTrace(
  cmd: string[],
  opts: { env: Record<string, string>; events?: string[] },
): Promise<{ code: number; stdout: string; stderr: string; calls: Call[] }> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("perf", {
      args: [
        "trace",
        "-o",
        `${dir}/trace`,
        ...(opts.events ? ["-e", opts.events.join(",")] : []),
        "--",
        ...cmd,
      ],
      env: opts.env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (out.signal === "SIGKILL") {
      // perf itself was killed (the traced command's status is its own)
      throw new Error(
        "perf trace was killed (SIGKILL): an enforcer that protects a " +
          "process kills perf_event_open callers (tracepoint tier); trace " +
          "where none runs, e.g. under flock /tmp/ct-suite.lock",
      );
    }
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      calls: parsePerfTrace(await Deno.readTextFile(`${dir}/trace`)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `   396.503 ( 0.045 ms): deno/22153 memfd_secret(flags: 524288)   = 28`;
 * a successful exec has no duration: `250.149 (         ): comm/tid ...` */
const LINE = /^\s*(\d+\.\d+) \([^)]*\): .*?\/(\d+) (\w+)\((.*)\)\s+= (\S+)/;

/** A successful exec that `-e` filtered: it never returns to be printed,
 * `... execveat(fd: 28<...>, ..., flags: 4096) ...` (ret: `...`). */
const EXEC =
  /^\s*(\d+\.\d+) \([^)]*\): .*?\/(\d+) (execve(?:at)?)\((.*)\) (\.\.\.)\s*$/;

/** The calls of a `perf trace` output, in time order. */
export function parsePerfTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line) ?? EXEC.exec(line);
    if (m) {
      calls.push({ at: +m[1], tid: +m[2], name: m[3], args: m[4], ret: m[5] });
    }
  }
  return calls.sort((a, b) => a.at - b.at);
}

/** Whether a call's first argument is fd `fd` (`fd: 26`, `fd: 26<...>`). */
export function onFd(c: Call, fd: string): boolean {
  return new RegExp(`^fd: ${fd}(\\D|$)`).test(c.args);
}
