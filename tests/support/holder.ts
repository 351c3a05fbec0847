/** Starts tests/support/fixtures/hold_region.ts and talks to it. */
import { randomMarker } from "./markers.ts";
import { nativePath } from "../../ffi/mod.ts";
import { unprivilegedTree } from "./unprivileged.ts";

const FIXTURE = new URL("./fixtures/hold_region.ts", import.meta.url).pathname;
export const REPO = new URL("../../", import.meta.url).pathname;

/** What the holder reports about its region. */
export interface HolderInfo {
  pid: number;
  address: string;
  size: number;
  valueOffset: number;
  backing: string;
  locked: boolean;
  path: string;
  flags: string[];
}

export interface HolderOptions {
  mode?: "hold" | "overflow" | "underflow" | "canary" | "crash";
  harden?: boolean;
  /** Apply only one half of the hardening. */
  only?: "dumpable" | "core-limit";
  /** Run under the seccomp helper that makes memfd_secret fail with ENOSYS. */
  noMemfdSecret?: boolean;
  /** Run as this user (via setpriv), e.g. "nobody". */
  user?: string;
  /** RLIMIT_MEMLOCK in bytes (via prlimit). */
  memlock?: number;
  /** RLIMIT_CORE (via prlimit), e.g. "unlimited". */
  core?: string;
  env?: Record<string, string>;
}

/** A unique marker secret for one test. */
export function marker(tag: string): string {
  return randomMarker("CTMARK", tag, 12);
}

/**
 * The command line for the holder, with the requested wrappers around it.
 * `root` is the tree to run it from (a copy an unprivileged user can read).
 */
export function holderCommand(opts: HolderOptions, root?: string): string[] {
  const deno = Deno.execPath();
  let cmd = [
    deno,
    "run",
    "-A",
    "--no-lock",
    "--no-config",
    root ? `${root}/tests/support/fixtures/hold_region.ts` : FIXTURE,
    opts.mode ?? "hold",
  ];
  if (opts.harden === false) cmd.push("--no-harden");
  if (opts.only) cmd.push(`--only-${opts.only}`);
  if (opts.noMemfdSecret) {
    const helper = root
      ? `${root}/build/seccomp_nosecret`
      : nativePath("seccomp_nosecret");
    cmd = [helper, ...cmd];
  }
  if (opts.memlock !== undefined || opts.core !== undefined) {
    const lim = [];
    if (opts.memlock !== undefined) lim.push(`--memlock=${opts.memlock}`);
    if (opts.core !== undefined) lim.push(`--core=${opts.core}`);
    cmd = ["prlimit", ...lim, "--", ...cmd];
  }
  if (opts.user) {
    cmd = [
      "setpriv",
      `--reuid=${opts.user}`,
      `--regid=${opts.user === "nobody" ? "nogroup" : opts.user}`,
      "--clear-groups",
      "--",
      ...cmd,
    ];
  }
  return cmd;
}

/** A running holder process. */
export class Holder {
  readonly child: Deno.ChildProcess;
  readonly info: HolderInfo;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #out: ReadableStreamDefaultReader<string>;
  #buffered = "";

  private constructor(
    child: Deno.ChildProcess,
    info: HolderInfo,
    stdin: WritableStreamDefaultWriter<Uint8Array>,
    out: ReadableStreamDefaultReader<string>,
    buffered: string,
  ) {
    this.child = child;
    this.info = info;
    this.#stdin = stdin;
    this.#out = out;
    this.#buffered = buffered;
  }

  /** Starts the holder, sends the secret, waits for its JSON line. */
  static async start(
    secret: string,
    opts: HolderOptions = {},
  ): Promise<Holder> {
    const child = await spawnHolder(opts);
    const stdin = child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode(secret + "\n"));
    const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    while (!buffered.includes("\n")) {
      const r = await out.read();
      if (r.done) {
        const err = await new Response(child.stderr).text();
        const st = await child.status;
        throw new HolderFailed(st.code, st.signal, err);
      }
      buffered += r.value;
    }
    const nl = buffered.indexOf("\n");
    const info = JSON.parse(buffered.slice(0, nl)) as HolderInfo;
    return new Holder(child, info, stdin, out, buffered.slice(nl + 1));
  }

  /** Region address of the secret value. */
  get valueAddress(): bigint {
    return BigInt(this.info.address) + BigInt(this.info.valueOffset);
  }

  /** Closes stdin and collects the rest of the output and the status. */
  async finish(): Promise<
    { status: Deno.CommandStatus; stdout: string; stderr: string }
  > {
    await this.#stdin.close().catch(() => {});
    let stdout = this.#buffered;
    for (;;) {
      const r = await this.#out.read();
      if (r.done) break;
      stdout += r.value;
    }
    const stderr = await new Response(this.child.stderr).text();
    return { status: await this.child.status, stdout, stderr };
  }
}

/** The holder exited before reporting its region. */
export class HolderFailed extends Error {
  constructor(
    readonly code: number,
    readonly signal: Deno.Signal | null,
    readonly stderr: string,
  ) {
    super(`holder exited with ${signal ?? code}: ${stderr}`);
  }
}

/** Runs a holder to completion (for modes that end by themselves). */
export async function runHolder(secret: string, opts: HolderOptions) {
  const child = await spawnHolder(opts);
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(secret + "\n"));
  await w.close();
  const out = await child.output();
  return {
    status: { code: out.code, signal: out.signal, success: out.success },
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Spawns the holder with piped stdio. */
async function spawnHolder(opts: HolderOptions): Promise<Deno.ChildProcess> {
  const env: Record<string, string> = { ...opts.env };
  // Another user may not be able to read this checkout (a clone in a 0700
  // directory) nor root's Deno cache: run from a copy it can read.
  const tree = opts.user ? await unprivilegedTree() : undefined;
  const cmd = holderCommand(opts, tree?.root);
  if (tree) env.DENO_DIR = tree.denoDir;
  return new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

/**
 * Reads `len` bytes at `addr` of `/proc/<pid>/mem` from a separate process
 * (the test runner itself is not the holder). Returns the bytes or the errno
 * name the kernel gave.
 */
export function readProcMem(
  pid: number,
  addr: bigint,
  len: number,
): Uint8Array | string {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(`/proc/${pid}/mem`, { read: true });
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  try {
    f.seekSync(addr, Deno.SeekMode.Start);
    const buf = new Uint8Array(len);
    const n = f.readSync(buf);
    return buf.subarray(0, n ?? 0);
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    f.close();
  }
}
