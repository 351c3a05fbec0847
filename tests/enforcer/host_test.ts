/**
 * cloudtaser-enforcer on this host's kernel. Here the kernel refuses BPF LSM
 * programs, so the tracepoint fallback runs: attackers are killed (SIGKILL)
 * instead of getting EPERM. Where LSM loads, the same tests expect EPERM.
 * The LSM tier itself is proven in a VM (vm_test.ts).
 *
 * Root attacks a protected process with real tools (cat, dd, strace, gdb)
 * and with ct-attack (process_vm_readv/writev, pidfd_getfd, ...), and the
 * same attacks on an unprotected control process must succeed.
 */
import assert from "node:assert/strict";
import { registerWithEnforcer } from "../../src/enforcer/client.ts";
import {
  ATTACK,
  Enforcer,
  procState,
  REPO,
  run,
  type RunResult,
  Target,
  type TargetInfo,
} from "./support.ts";

const isRoot = Deno.uid() === 0;
const built = (() => {
  try {
    Deno.statSync(`${REPO}build/cloudtaser-enforcer`);
    return true;
  } catch {
    return false;
  }
})();
const ignore = !isRoot || !built;

interface Attack {
  name: string;
  cmd: (t: TargetInfo) => [string, string[]];
  /** how the attack shows success on an unprotected process */
  worked: (r: RunResult, t: TargetInfo) => boolean;
}

const ctAttack = (what: string): Attack => ({
  name: `ct-attack ${what}`,
  cmd: (t) => [ATTACK, [what, String(t.pid), t.addr, String(t.fd)]],
  worked: (r) => r.code === 0 && JSON.parse(r.stdout).result === "ok",
});

/** Every way in that the enforcer must stop, as the tools root would use. */
const ATTACKS: Attack[] = [
  {
    name: "cat /proc/<pid>/environ",
    cmd: (t) => ["cat", [`/proc/${t.pid}/environ`]],
    worked: (r) => r.code === 0 && r.stdout.includes("CT_SECRET=CT-SECRET-"),
  },
  {
    name: "cat /proc/<pid>/task/<tid>/environ",
    cmd: (t) => ["cat", [`/proc/${t.pid}/task/${t.pid}/environ`]],
    worked: (r) => r.code === 0 && r.stdout.includes("CT_SECRET=CT-SECRET-"),
  },
  {
    name: "dd of /proc/<pid>/mem",
    cmd: (t) => [
      "dd",
      [
        `if=/proc/${t.pid}/mem`,
        "bs=32",
        "count=1",
        "iflag=skip_bytes",
        `skip=${BigInt(t.addr)}`,
      ],
    ],
    worked: (r) => r.code === 0 && r.stdout.includes("CT-SECRET-"),
  },
  {
    name: "strace -p",
    // on an unprotected target strace attaches and runs until timeout(1)
    cmd: (
      t,
    ) => ["timeout", [
      "-s",
      "INT",
      "1",
      "strace",
      "-p",
      String(t.pid),
      "-o",
      "/dev/null",
    ]],
    worked: (r) => r.stderr.includes("attached"),
  },
  {
    name: "gdb -p (batch)",
    cmd: (
      t,
    ) => ["gdb", ["-nx", "-batch", "-p", String(t.pid), "-ex", "info proc"]],
    worked: (r, t) => r.code === 0 && r.stdout.includes(`process ${t.pid}`),
  },
  ctAttack("process_vm_readv"),
  ctAttack("process_vm_writev"),
  ctAttack("pidfd_getfd"),
  ctAttack("fd_reopen"),
  ctAttack("ptrace"),
  ctAttack("maps"),
  ctAttack("smaps"),
  ctAttack("pagemap"),
  ctAttack("stack"),
  ctAttack("syscall"),
  ctAttack("map_files"),
  ctAttack("coredump_filter"),
];

/** The attack was stopped: killed by the fallback or refused by LSM, and
 * the enforcer reported it (a denial for this target among the lines that
 * came after `before`). */
async function assertStopped(
  e: Enforcer,
  a: Attack,
  r: RunResult,
  before: number,
  target: number,
  secret: string,
) {
  const label =
    `${a.name} on ${target}: code ${r.code} signal ${r.signal}\n${r.stdout}${r.stderr}`;
  assert.ok(!r.stdout.includes(secret), `secret leaked: ${label}`);
  if (e.ready.lsm) {
    // procfs reports a refused /proc/<pid>/fd/N link as EACCES
    assert.match(
      r.stdout + r.stderr,
      /EPERM|Operation not permitted|EACCES|Permission denied/,
      label,
    );
  } else {
    assert.equal(r.signal, "SIGKILL", label);
  }
  const ev = await e.out.waitFor(
    (l) =>
      e.out.lines.indexOf(l) >= before && l.event === "denial" &&
      l.target === target,
    3000,
    `a denial for ${a.name}`,
  );
  assert.equal(ev.action, e.ready.lsm ? "denied" : "killed", label);
}

/** Runs one attack and checks that it was stopped. */
async function attackStopped(
  e: Enforcer,
  a: Attack,
  t: TargetInfo,
  secret: string,
) {
  const before = e.out.lines.length;
  const [cmd, args] = a.cmd(t);
  const r = await run(cmd, args, 8000);
  await assertStopped(e, a, r, before, t.pid, secret);
}

Deno.test({
  name: "registerWithEnforcer reports an absent socket without throwing",
  async fn() {
    const r = await registerWithEnforcer(
      "/nonexistent/cloudtaser/enforcer.sock",
      500,
    );
    assert.equal(r.connected, false);
    assert.match(r.error ?? "", /NotFound|No such file/);
  },
});

Deno.test({
  name:
    "the enforcer loads, says which tier runs, and registers a client by SO_PEERCRED",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      assert.equal(e.ready.mode, "enforce");
      assert.equal(typeof e.ready.lsm, "boolean");
      if (!e.ready.lsm) {
        assert.equal(e.ready.tier, "tracepoint-kill");
        assert.match(String(e.ready.lsm_unavailable), /./);
      }
      // the wrapper's own client, run in its own process (registering the
      // test runner would protect every attacker it spawns)
      const r = await run(Deno.execPath(), [
        "eval",
        `import { registerWithEnforcer } from "${REPO}src/enforcer/client.ts";
         console.log(JSON.stringify(await registerWithEnforcer("${e.socket}")));`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const reg = JSON.parse(r.stdout);
      assert.deepEqual(reg, {
        connected: true,
        pid: r.pid,
        mode: "enforce",
        lsm: e.ready.lsm,
      });
      await e.out.waitFor((l) => l.event === "registered" && l.pid === r.pid);
      // and its exit clears the entry
      await e.out.waitFor((l) => l.event === "released" && l.pid === r.pid);
    } finally {
      await e.stop();
    }
  },
});

Deno.test({
  name:
    "root's attacks on a protected process and its forked child are stopped; they keep working",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let t: Target | undefined;
    try {
      t = await Target.start(e.socket, { fork: true, tag: "protected" });
      assert.equal(t.registration?.registered, true);
      assert.equal(t.registration?.pid, t.parent.pid);
      await e.out.waitFor((l) =>
        l.event === "inherited" && l.pid === t!.child!.pid
      );
      for (const a of ATTACKS) await attackStopped(e, a, t.parent, t.secret);
      // the forked child is protected too
      for (
        const a of [
          ATTACKS[0],
          ctAttack("process_vm_readv"),
          ctAttack("pidfd_getfd"),
        ]
      ) {
        await attackStopped(e, a, t.child!, t.secret);
      }
      // the protected processes still read their own environ, maps and mem,
      // and no attach left them stopped
      const checks = await t.selfCheck();
      assert.deepEqual(checks.map((c) => c.self_check), ["ok", "ok"]);
      assert.notEqual(procState(t.parent.pid), "T");
      assert.notEqual(procState(t.child!.pid), "T");
      // the denial lines name the accessor's comm
      const comms = new Set(
        e.out.lines.filter((l) => l.event === "denial")
          .map((l) => (l.accessor as { comm: string }).comm),
      );
      for (const c of ["cat", "dd", "strace", "gdb", "ct-attack"]) {
        assert.ok(comms.has(c), c);
      }
    } finally {
      await t?.finish();
      await e.stop();
    }
  },
});

Deno.test({
  name:
    "the same attacks on an unprotected process succeed while the enforcer runs",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let t: Target | undefined;
    try {
      t = await Target.start(null, { tag: "control" });
      for (const a of ATTACKS) {
        const [cmd, args] = a.cmd(t.parent);
        const r = await run(cmd, args, 8000);
        assert.ok(
          a.worked(r, t.parent),
          `${a.name}: ${r.code} ${r.signal}\n${r.stdout}${r.stderr}`,
        );
      }
      // (other processes on the host may touch the enforcer itself, which
      // is protected too: only denials about the control matter here)
      const aboutControl = e.out.lines.filter((l) =>
        l.event === "denial" && l.target === t!.parent.pid
      );
      assert.equal(aboutControl.length, 0, e.out.raw);
    } finally {
      await t?.finish();
      await e.stop();
    }
  },
});

Deno.test({
  name: "detect mode reports the attack and lets it through",
  ignore,
  async fn() {
    const e = await Enforcer.start({ mode: "detect" });
    let t: Target | undefined;
    try {
      assert.equal(e.ready.mode, "detect");
      t = await Target.start(e.socket, { tag: "detect" });
      assert.equal(t.registration?.mode, "detect");
      const r = await run("cat", [`/proc/${t.parent.pid}/environ`]);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.includes(t.secret));
      const ev = await e.out.waitFor((l) =>
        l.event === "denial" && (l.accessor as { pid: number }).pid === r.pid
      );
      assert.equal(ev.action, "logged");
      assert.equal(ev.what, "open:environ");
    } finally {
      await t?.finish();
      await e.stop();
    }
  },
});

Deno.test({
  name: "nobody but the enforcer gets a writable fd for its maps or links",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      const r = await run("bpftool", ["link", "show"], 8000);
      const ev = await e.out.waitFor((l) =>
        l.event === "denial" && String(l.what).startsWith("bpf:") &&
        (l.accessor as { pid: number }).pid === r.pid
      );
      assert.equal(ev.action, e.ready.lsm ? "denied" : "killed");
      if (!e.ready.lsm) assert.equal(r.signal, "SIGKILL");
      // Program fds change nothing and stay open to all. But `bpftool prog
      // show` also opens every map of every program (read-write) to find
      // metadata: under LSM that open fails and bpftool goes on, under the
      // fallback bpftool is killed, a bystander (docs/enforcer.md).
      const progs = await run("bpftool", ["prog", "show"], 8000);
      if (e.ready.lsm) {
        assert.equal(progs.code, 0, progs.stderr);
        assert.match(progs.stdout, /name ct_fork/);
      } else {
        assert.equal(progs.signal, "SIGKILL");
      }
    } finally {
      await e.stop();
    }
  },
});

Deno.test({
  name: "on SIGTERM the enforcer exits 0 and leaves nothing behind",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    const socket = e.socket;
    const { status, stderr } = await e.stop();
    assert.equal(status.code, 0, stderr);
    assert.throws(() => Deno.statSync(socket));
    // programs are freed asynchronously (RCU) after the last reference goes
    const ours =
      /name ct_(file_open|ptrace_check|bpf|sys_enter|sys_exit|fork|exit)\b/;
    let progs = "";
    for (let i = 0; i < 50; i++) {
      const r = await run("bpftool", ["prog", "show"], 8000);
      assert.equal(r.code, 0, r.stderr);
      progs = r.stdout;
      if (!ours.test(progs)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.doesNotMatch(progs, ours);
    let pinned: string[] = [];
    try {
      pinned = [...Deno.readDirSync("/sys/fs/bpf")].map((d) => d.name);
    } catch { /* bpffs not mounted: nothing can be pinned */ }
    assert.ok(
      !pinned.some((n) => /cloudtaser|enforcer/.test(n)),
      pinned.join(","),
    );
  },
});
