/**
 * Tracing reads a protected process from inside its own context, where
 * memfd_secret does not help: a root-loaded tp_btf program calling
 * bpf_probe_read_user() (ct-bpfread), and perf_event_open samples of its
 * user stack (ct-perf). While anything is protected the enforcer refuses
 * both to everyone but itself and its allow list (tracepoint tier: the
 * loader is killed at bpf()/perf_event_open() entry, and a program load
 * fails outright because the verifier gives up on the pending signal). The
 * controls run the same attacks while nothing is protected, and from an
 * allow-listed copy of the attack program.
 */
import assert from "node:assert/strict";
import {
  ATTACK,
  type Attack,
  attackStopped,
  attackWorks,
  BPFREAD,
  copyExecutable,
  Enforcer,
  PERF,
  program,
  REPO,
  run,
  Target,
} from "../support/enforcer.ts";

const ignore = Deno.uid() !== 0 ||
  (() => {
    try {
      Deno.statSync(`${REPO}build/attacks/ct-bpfread`);
      return false;
    } catch {
      return true;
    }
  })();

/** Where this host mounts cgroup v2 (a hybrid hierarchy here). */
const CGROUP2 = (() => {
  for (const dir of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      Deno.statSync(`${dir}/cgroup.procs`);
      if (
        Deno.readTextFileSync("/proc/self/mounts").includes(` ${dir} cgroup2 `)
      ) {
        return dir;
      }
    } catch { /* not here */ }
  }
  return "/sys/fs/cgroup/unified";
})();

const bpfRead = (bin = BPFREAD): Attack =>
  program(bin, "tp_btf read", (t) => [
    String(t.pid),
    t.region === "(nil)" ? t.addr : t.region,
  ]);
const perfStack = (bin = PERF): Attack =>
  program(bin, "user stack sample", (t) => [String(t.pid)]);

/** Opens a tracefs file for writing (no write) with a fresh tracefs mount. */
async function openTracefsForWriting() {
  const dir = Deno.makeTempDirSync({ prefix: "ct-tracefs-" });
  try {
    const m = await run("mount", ["-t", "tracefs", "nodev", dir]);
    assert.equal(m.code, 0, m.stderr);
    return await run("sh", ["-c", `exec 3>>${dir}/trace_marker`]);
  } finally {
    await run("umount", [dir]);
    Deno.removeSync(dir);
  }
}

/** Whether a program of that name is loaded (program fds are open to all). */
async function progLoaded(name: string): Promise<boolean> {
  const r = await run(ATTACK, ["bpf_progs", name]);
  return r.code !== 0;
}

/**
 * Waits (bounded) until no program of that name is loaded: the kernel frees
 * an exited loader's program after an RCU grace period, so the control
 * test's program can still be listed for a moment. One that stays is real.
 */
async function noProgLoaded(name: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (await progLoaded(name)) {
    if (Date.now() > end) {
      throw new Error(`a ${name} program is still loaded after ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name:
    "a foreign tp_btf program and a perf sample read a secret (memfd_secret included) while nothing is protected",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let c: Target | undefined;
    try {
      c = await Target.start(null, { tag: "tracing-control" });
      assert.notEqual(
        c.parent.region,
        "(nil)",
        "memfd_secret is expected here",
      );
      // /proc/<pid>/mem cannot read the region (not in the direct map)...
      const mem = await run(ATTACK, [
        "mem",
        String(c.parent.pid),
        c.parent.region,
      ]);
      assert.match(mem.stdout, /"result":"EIO"/, mem.stdout);
      // ...but a program running in the process's context can
      for (const a of [bpfRead(), perfStack()]) {
        const r = await attackWorks(a, c.parent);
        assert.match(r.stdout, /"saw_secret":true/, `${a.name}: ${r.stdout}`);
      }
      const w = await openTracefsForWriting();
      assert.equal(w.code, 0, w.stderr);
    } finally {
      await c?.finish();
      await e.stop();
    }
  },
});

Deno.test({
  name:
    "while something is protected, tracing is refused to everyone but the allow list",
  ignore,
  async fn() {
    const allowedRead = copyExecutable(BPFREAD);
    // a cgroup v2 of our own: processes in it (or below) are allowed
    const cgroup = Deno.makeTempDirSync({
      dir: CGROUP2,
      prefix: "ct-allowed-",
    });
    const e = await Enforcer.start({
      allow: [`tracing:exe=${allowedRead}`, `tracing:cgroup=${cgroup}`],
    });
    let t: Target | undefined, c: Target | undefined;
    try {
      await noProgLoaded("read_secret"); // a control run's, being freed
      t = await Target.start(e.socket, { tag: "tracing" });
      c = await Target.start(null, { tag: "tracing-control" });
      for (const a of [bpfRead(), perfStack()]) {
        const ev = await attackStopped(e, a, t.parent, t.secret);
        assert.match(String(ev.what), /^tracing:/);
      }
      // the load itself failed: no such program exists
      assert.equal(await progLoaded("read_secret"), false);
      // not only for the protected process: tracing is refused to all
      for (const a of [bpfRead(), perfStack()]) {
        await attackStopped(e, a, c.parent, c.secret);
      }
      // an allow-listed executable is trusted like the enforcer: it reads
      // what it targets (here the unprotected control)
      const r = await attackWorks(bpfRead(allowedRead), c.parent);
      assert.match(r.stdout, /"saw_secret":true/);
      // so is any process that runs in the allow-listed cgroup
      const inCgroup = await run("sh", [
        "-c",
        `echo $$ > ${cgroup}/cgroup.procs && exec ${BPFREAD} ${c.parent.pid} ${c.parent.region}`,
      ]);
      assert.match(inCgroup.stdout, /"saw_secret":true/, inCgroup.stdout);
      // tracefs: opening its files for writing (uprobe_events, ...)
      const before = e.out.lines.length;
      const w = await openTracefsForWriting();
      const ev = await e.out.waitFor(
        (l) => e.out.lines.indexOf(l) >= before && l.event === "denial",
        3000,
        "a tracefs denial",
      );
      assert.equal(ev.what, "tracing:tracefs:trace_marker");
      assert.equal(w.code === 0, false, "the open worked");
      if (!e.ready.lsm) assert.equal(w.signal, "SIGKILL");
    } finally {
      await t?.finish();
      await c?.finish();
      await e.stop();
      Deno.removeSync(allowedRead.replace(/\/[^/]*$/, ""), { recursive: true });
      // empty again once its process is reaped (rmdir: EBUSY until then)
      for (let i = 0; i < 50; i++) {
        try {
          Deno.removeSync(cgroup);
          break;
        } catch {
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    }
  },
});
