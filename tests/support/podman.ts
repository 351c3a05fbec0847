/**
 * Real containers for tests: podman with runc, in a storage root of its own
 * under a temporary directory, so a test file neither sees nor leaves
 * containers, images or volumes of anyone else (podman still shares its lock
 * segment, /dev/shm/libpod_lock, and a blob-info cache under
 * /var/lib/containers/cache). What this machine needs (DESIGN.md, measured):
 *
 * - `--runtime runc`: crun refuses this host's hybrid cgroups;
 * - a containers.conf (through `CONTAINERS_CONF`) with `default_ulimits`
 *   of nofile 20000 and nproc 32768 (lower where this process's hard limit
 *   is lower): podman's own defaults for root (RLIMIT_NOFILE 1048576)
 *   exceed the hard limits here and runc fails, and so does an nproc above
 *   32768 for a container without CAP_SYS_RESOURCE (measured: runc's
 *   process has that hard limit). RLIMIT_MEMLOCK is left alone: the
 *   container gets this machine's default, as a pod gets its node's;
 * - images are built `FROM scratch` (no registry is reachable).
 *
 * Every container is removed by `close()`, which also unmounts and removes
 * the storage.
 *
 * @example
 * ```ts
 * const podman = await Podman.open();
 * try {
 *   await podman.build("app:test", contextDir, "FROM scratch\nCOPY app /app\n");
 *   const c = await podman.start({ image: "app:test", command: ["/app"] });
 *   await c.waitForLog(/ready/);
 *   await c.kill("SIGTERM");
 *   assert.equal(await c.wait(), 143);
 * } finally {
 *   await podman.close();
 * }
 * ```
 */

const dec = new TextDecoder();

/** Output of one podman command. */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A bind mount into a container. */
export interface Mount {
  /** A host path (bind mount). */
  source: string;
  target: string;
  readOnly?: boolean;
}

/** How to run a container; each field maps to one `podman run` flag. */
export interface RunOptions {
  image: string;
  /** Replaces the image's ENTRYPOINT (`--entrypoint`, a JSON array). */
  entrypoint?: string[];
  /** The words after the image (the image's CMD when absent). */
  command?: string[];
  /** `--user`, e.g. "65534:65534". */
  user?: string;
  /** `--read-only` without podman's extra tmpfs on /tmp, /run (as Kubernetes'
   * readOnlyRootFilesystem). */
  readOnly?: boolean;
  capDrop?: string[];
  capAdd?: string[];
  /** `--security-opt no-new-privileges` (allowPrivilegeEscalation: false). */
  noNewPrivileges?: boolean;
  /** `--security-opt seccomp=PATH` (or `unconfined`); the runtime's default
   * profile when absent. */
  seccompProfile?: string;
  /**
   * `--ulimit`, e.g. ["memlock=65536:65536"]. Any `--ulimit` makes podman
   * drop containers.conf's `default_ulimits`, so nofile and nproc are then
   * added from them unless named here.
   */
  ulimits?: string[];
  env?: Record<string, string>;
  mounts?: Mount[];
  /** `--network`. @default "none" */
  network?: "none" | "host";
  /** `--stop-timeout` in seconds (what `podman stop` waits before SIGKILL). */
  stopTimeout?: number;
}

/** A process inside a container, seen from the host. */
export interface ContainerProcess {
  /** Host pid. */
  pid: number;
  /** Host pid of its parent. */
  ppid: number;
  /** Its pid inside the container's pid namespace (NSpid). */
  nsPid: number;
  /** `State` letter from /proc/PID/stat: R, S, Z, ... */
  state: string;
  comm: string;
}

/** One podman storage root; `close()` it in a `finally`. */
export class Podman {
  readonly dir: string;
  readonly #globals: string[];
  readonly #env: Record<string, string>;
  readonly #ulimits: string[];
  readonly #containers = new Set<Container>();
  #names = 0;

  private constructor(dir: string, ulimits: string[]) {
    this.dir = dir;
    this.#ulimits = ulimits;
    this.#globals = [
      "--root",
      `${dir}/root`,
      "--runroot",
      `${dir}/runroot`,
      "--tmpdir",
      `${dir}/tmp`,
      "--volumepath",
      `${dir}/volumes`,
      "--storage-driver",
      "overlay",
      "--runtime",
      "runc",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
    ];
    this.#env = {
      CONTAINERS_CONF: `${dir}/containers.conf`,
      PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    };
  }

  /** A fresh storage root under a new temporary directory. */
  static async open(): Promise<Podman> {
    await requirePodman();
    const dir = await Deno.makeTempDir({ prefix: "ct-podman-" });
    const nofile = Math.min(20000, hardLimit("Max open files"));
    const nproc = Math.min(32768, hardLimit("Max processes"));
    const ulimits = [`nofile=${nofile}:${nofile}`, `nproc=${nproc}:${nproc}`];
    await Deno.writeTextFile(
      `${dir}/containers.conf`,
      `[containers]\ndefault_ulimits = ${JSON.stringify(ulimits)}\n`,
    );
    return new Podman(dir, ulimits);
  }

  /** Runs `podman ARGS` with this storage; never throws on a non-zero exit. */
  async cmd(args: string[], stdin?: Uint8Array): Promise<PodmanResult> {
    const child = new Deno.Command("podman", {
      args: [...this.#globals, ...args],
      env: this.#env,
      clearEnv: true,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin) {
      const w = child.stdin.getWriter();
      await w.write(stdin);
      await w.close();
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  }

  /** Like {@link cmd}, but throws with podman's message on failure. */
  async must(args: string[], stdin?: Uint8Array): Promise<string> {
    const r = await this.cmd(args, stdin);
    if (r.code !== 0) {
      throw new Error(
        `podman ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`,
      );
    }
    return r.stdout;
  }

  /** Builds `tag` from `containerfile` (text) with `context` as its context. */
  async build(
    tag: string,
    context: string,
    containerfile: string,
  ): Promise<void> {
    const file = `${this.dir}/Containerfile.${++this.#names}`;
    await Deno.writeTextFile(file, containerfile);
    await this.must(["build", "--quiet", "-t", tag, "-f", file, context]);
  }

  /**
   * A tmpfs mounted on the host, for bind mounts into containers: what the
   * kubelet does for `emptyDir: {medium: Memory}` (mode 0777, executable,
   * alive as long as the pod). Podman's own tmpfs volumes are mounted per
   * container and lose their content when the first container stops, so an
   * init container's copy would be gone. Unmounted by `close()`.
   */
  async memoryVolume(name: string, sizeMiB = 256): Promise<string> {
    const path = `${this.dir}/memory-volumes/${name}`;
    await Deno.mkdir(path, { recursive: true });
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=0777`, "tmpfs", path],
    }).output();
    if (!out.success) {
      throw new Error(
        `mount -t tmpfs ${path} failed: ${dec.decode(out.stderr).trim()}`,
      );
    }
    return path;
  }

  /** `podman run -d` with `opts`; the container is removed by `close()`. */
  async start(opts: RunOptions): Promise<Container> {
    const name = `ct-${Deno.pid}-${++this.#names}`;
    const args = ["run", "-d", "--name", name, "--log-driver", "k8s-file"];
    args.push(`--network=${opts.network ?? "none"}`);
    if (opts.entrypoint) {
      args.push("--entrypoint", JSON.stringify(opts.entrypoint));
    }
    if (opts.user) args.push("--user", opts.user);
    if (opts.readOnly) args.push("--read-only", "--read-only-tmpfs=false");
    for (const c of opts.capDrop ?? []) args.push("--cap-drop", c);
    for (const c of opts.capAdd ?? []) args.push("--cap-add", c);
    if (opts.noNewPrivileges) {
      args.push("--security-opt", "no-new-privileges");
    }
    if (opts.seccompProfile) {
      args.push("--security-opt", `seccomp=${opts.seccompProfile}`);
    }
    if (opts.ulimits?.length) {
      const named = new Set(opts.ulimits.map((u) => u.split("=")[0]));
      for (const u of [...this.#ulimits, ...opts.ulimits]) {
        if (!opts.ulimits.includes(u) && named.has(u.split("=")[0])) continue;
        args.push("--ulimit", u);
      }
    }
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      args.push("--env", `${k}=${v}`);
    }
    for (const m of opts.mounts ?? []) {
      args.push(
        "--volume",
        `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`,
      );
    }
    if (opts.stopTimeout !== undefined) {
      args.push("--stop-timeout", String(opts.stopTimeout));
    }
    args.push(opts.image, ...(opts.command ?? []));
    const c = new Container(this, name);
    this.#containers.add(c);
    await this.must(args);
    return c;
  }

  /**
   * Runs a container to its end; returns its exit code and output. A bound
   * function, so it can be handed on as it is (a pod runner's engine).
   */
  readonly runToEnd = async (opts: RunOptions): Promise<PodmanResult> => {
    const c = await this.start(opts);
    try {
      const code = await c.wait();
      return { code, ...(await c.logs()) };
    } finally {
      await c.remove();
    }
  };

  /** Removes every container, volume and image, then the storage itself. */
  async close(): Promise<void> {
    for (const c of this.#containers) await c.remove();
    await this.cmd(["rm", "--all", "--force", "--time", "0"]);
    await this.cmd(["volume", "rm", "--all", "--force"]);
    await this.cmd(["rmi", "--all", "--force"]);
    // The overlay driver keeps its home and layers mounted.
    for (const m of mountsUnder(this.dir).reverse()) {
      await new Deno.Command("umount", { args: ["-l", m] }).output();
    }
    await Deno.remove(this.dir, { recursive: true });
  }

  /** @internal */
  forget(c: Container) {
    this.#containers.delete(c);
  }
}

/** A container started by {@link Podman.start}. */
export class Container {
  #removed = false;
  constructor(readonly podman: Podman, readonly name: string) {}

  /** Its output so far (`podman logs`). */
  async logs(): Promise<{ stdout: string; stderr: string }> {
    const r = await this.podman.cmd(["logs", this.name]);
    return { stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Polls the output until `re` matches (stdout or stderr); throws with the
   * output when `timeoutMs` passes or the container has stopped without it.
   */
  async waitForLog(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (let delay = 20;; delay = Math.min(delay * 2, 250)) {
      const { stdout, stderr } = await this.logs();
      const m = stdout.match(re) ?? stderr.match(re);
      if (m) return m[0];
      const running = await this.running();
      if (!running || Date.now() > end) {
        // One last look: the line may have come as it stopped.
        const last = await this.logs();
        const again = last.stdout.match(re) ?? last.stderr.match(re);
        if (again) return again[0];
        throw new Error(
          `${this.name}: no ${re} after ${timeoutMs} ms (${
            running ? "still running" : "stopped"
          })\n--- stdout ---\n${last.stdout}\n--- stderr ---\n${last.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** True while the container runs. */
  async running(): Promise<boolean> {
    const r = await this.podman.cmd([
      "inspect",
      "--format",
      "{{.State.Running}}",
      this.name,
    ]);
    return r.stdout.trim() === "true";
  }

  /** Host pid of the container's PID 1 (0 once it has stopped). */
  async hostPid(): Promise<number> {
    const out = await this.podman.must([
      "inspect",
      "--format",
      "{{.State.Pid}}",
      this.name,
    ]);
    return Number(out.trim());
  }

  /** Every process in the container's pid namespace, seen from the host. */
  async processes(): Promise<ContainerProcess[]> {
    const init = await this.hostPid();
    if (!init) return [];
    let ns: string;
    try {
      ns = Deno.readLinkSync(`/proc/${init}/ns/pid`);
    } catch {
      return [];
    }
    const out: ContainerProcess[] = [];
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        if (Deno.readLinkSync(`/proc/${e.name}/ns/pid`) !== ns) continue;
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const nsPid = Deno.readTextFileSync(`/proc/${e.name}/status`)
          .match(/^NSpid:\s+(.*)$/m)?.[1].trim().split(/\s+/).pop();
        // comm is in parentheses and may hold spaces: split after the last ")".
        const close = stat.lastIndexOf(")");
        const rest = stat.slice(close + 2).split(" ");
        out.push({
          pid: Number(e.name),
          ppid: Number(rest[1]),
          nsPid: Number(nsPid),
          state: rest[0],
          comm: stat.slice(stat.indexOf("(") + 1, close),
        });
      } catch { /* gone meanwhile */ }
    }
    return out;
  }

  /** `podman kill --signal SIG`: the signal goes to the container's PID 1. */
  async kill(signal: Deno.Signal): Promise<void> {
    await this.podman.must(["kill", "--signal", signal, this.name]);
  }

  /** `podman stop`: SIGTERM, then SIGKILL after `timeoutS`. */
  async stop(timeoutS = 10): Promise<void> {
    await this.podman.must(["stop", "--time", String(timeoutS), this.name]);
  }

  /** `podman wait`: the container's exit code once it has stopped. */
  async wait(): Promise<number> {
    const out = await this.podman.must(["wait", this.name]);
    return Number(out.trim().split("\n").pop());
  }

  /** Removes the container, killing it first if it still runs. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await this.podman.cmd(["rm", "--force", "--time", "0", this.name]);
    this.podman.forget(this);
  }
}

/** Fails plainly when podman is missing: scripts/setup.sh installs it. */
async function requirePodman(): Promise<void> {
  try {
    await new Deno.Command("podman", { args: ["--version"] }).output();
    await new Deno.Command("runc", { args: ["--version"] }).output();
  } catch {
    throw new Error(
      "podman and runc are needed for the container tests: run " +
        "scripts/setup.sh (it installs them from Debian)",
    );
  }
}

/** This process's hard limit for `name` in /proc/self/limits. */
function hardLimit(name: string): number {
  const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
    .find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  if (!hard) throw new Error(`no "${name}" in /proc/self/limits`);
  return hard === "unlimited" ? Infinity : Number(hard);
}

/** Mount points at or under `dir`, in mount order. */
function mountsUnder(dir: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p) => p && (p === dir || p.startsWith(dir + "/")));
}
