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
  type Attack,
  attackStopped,
  attackWorks,
  ctAttack,
  Enforcer,
  procState,
  REGISTER,
  REPO,
  run,
  TARGET,
  Target,
} from "../support/enforcer.ts";

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
  ctAttack("ptrace_seize"),
  ctAttack("maps"),
  ctAttack("smaps"),
  ctAttack("pagemap"),
  ctAttack("stack"),
  ctAttack("syscall"),
  ctAttack("map_files"),
  ctAttack("coredump_filter"),
];

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
      for (const a of ATTACKS) await attackWorks(a, t.parent);
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

/** Attacks aimed at a thread id (a second thread of the target). */
const THREAD_ATTACKS: Attack[] = [
  ctAttack("process_vm_readv", "tid"),
  ctAttack("process_vm_writev", "tid"),
  ctAttack("ptrace", "tid"),
  ctAttack("ptrace_seize", "tid"),
  ctAttack("pidfd_getfd", "tid"),
  ctAttack("environ", "tid"),
  ctAttack("task_environ", "tid"),
  ctAttack("task_fd_reopen", "tid"),
];

Deno.test({
  name:
    "attacks aimed at a thread id of a protected process are stopped; on an unprotected thread they work",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let t: Target | undefined, c: Target | undefined;
    try {
      t = await Target.start(e.socket, { thread: true, tag: "threads" });
      c = await Target.start(null, { thread: true, tag: "threads-control" });
      assert.notEqual(t.parent.tid, t.parent.pid);
      for (const a of THREAD_ATTACKS) {
        const ev = await attackStopped(e, a, t.parent, t.secret);
        // the denial names the thread group, not the thread
        assert.equal(ev.target, t.parent.pid, JSON.stringify(ev));
      }
      for (const a of THREAD_ATTACKS) await attackWorks(a, c.parent);
      assert.notEqual(procState(t.parent.pid), "T");
    } finally {
      await t?.finish();
      await c?.finish();
      await e.stop();
    }
  },
});

/** Runs a registered (or not) target and attacks inside a new pid
 * namespace, with the namespace's own pid numbers. */
async function inPidNamespace(socket: string | null, secret: string) {
  const start = socket ? `${REGISTER} ${socket} -- ${TARGET}` : `${TARGET}`;
  const script = `
    CT_SECRET=${secret} ${start} --thread > "$1" 2>/dev/null &
    i=0; until grep -q '"target"' "$1" 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && exit 3; sleep 0.05; done
    line=$(grep '"target"' "$1")
    pid=$(echo "$line" | sed 's/.*"pid":\\([0-9]*\\).*/\\1/')
    tid=$(echo "$line" | sed 's/.*"tid":\\([0-9]*\\).*/\\1/')
    addr=$(echo "$line" | sed 's/.*"addr":"\\([^"]*\\)".*/\\1/')
    fd=$(echo "$line" | sed 's/.*"fd":\\([0-9]*\\).*/\\1/')
    echo "ns-pid $pid"
    for a in process_vm_readv ptrace fd_reopen; do ${REPO}build/attacks/ct-attack $a $pid $addr $fd; echo "rc $?"; done
    ${REPO}build/attacks/ct-attack process_vm_readv $tid $addr; echo "rc $?"
    kill $pid`;
  const out = Deno.makeTempFileSync({ prefix: "ct-pidns-" });
  try {
    return await run(
      "unshare",
      ["--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh", out],
      20000,
    );
  } finally {
    Deno.removeSync(out);
  }
}

Deno.test({
  name:
    "pid numbers seen from another pid namespace resolve to the protected process",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      if (!e.ready.lsm && !e.ready.kfuncs) {
        // without bpf_task_from_vpid() (before 6.13) the tracepoint tier
        // takes the number as an initial-namespace pid (docs/enforcer.md)
        throw new Error("this kernel lacks the kfuncs the test needs");
      }
      const control = await inPidNamespace(null, "CT-SECRET-ns-control");
      assert.equal(
        control.stdout.match(/"saw_secret":true/g)?.length,
        4,
        control.stdout + control.stderr,
      );
      // inside the namespace the target is pid 2 or so: not its host tgid
      assert.match(control.stdout, /ns-pid [1-9]\b/);
      const p = await inPidNamespace(e.socket, "CT-SECRET-ns-protected");
      assert.doesNotMatch(p.stdout, /saw_secret":true/, p.stdout);
      const rcs = [...p.stdout.matchAll(/^rc (\d+)$/gm)].map((m) => m[1]);
      const refused = e.ready.lsm ? "1" : "137";
      assert.deepEqual(rcs, [refused, refused, refused, refused], p.stdout);
      const denials = e.out.lines.filter((l) => l.event === "denial");
      assert.ok(denials.length >= 4, e.out.raw);
    } finally {
      await e.stop();
    }
  },
});
