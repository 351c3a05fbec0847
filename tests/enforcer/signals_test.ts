/**
 * Stop signals (freeze a process, extend its start-up, scan it) and
 * core-dumping signals (dump it, secrets and all, to a pipe core_pattern)
 * from outside a protected process tree. LSM: task_kill refuses them
 * (EPERM) and file_send_sigiotask the same through F_SETSIG. Tracepoint
 * tier: a signal cannot be refused, so the sender is killed on its way out
 * of the syscall, the signal is marked, and the target repairs it when it
 * takes it (signal_deliver): a SIGCONT undoes the stop it is entering, a
 * SIGKILL lands before a core dump can start, so it dies (as it would have)
 * without a core. SIGTERM, SIGINT, SIGHUP, SIGUSR1/2 and SIGKILL stay
 * allowed: the kubelet must still stop pods.
 */
import assert from "node:assert/strict";
import {
  assertStopped,
  Enforcer,
  run,
  SIGNAL,
  stateOf,
  Target,
  until,
} from "../support/enforcer.ts";

const ignore = Deno.uid() !== 0 ||
  (() => {
    try {
      Deno.statSync(SIGNAL);
      return false;
    } catch {
      return true;
    }
  })();

/** The tracepoint tier's repair of a refused signal in its target. */
function repaired(e: Enforcer, before: number, pid: number, sig: string) {
  return e.out.waitFor(
    (l) =>
      e.out.lines.indexOf(l) >= before && l.event === "denial" &&
      l.action === "neutralized" && l.target === pid &&
      l.what === `signal:SIG${sig}`,
    3000,
    `the repair of SIG${sig} in ${pid}`,
  );
}

/** HOW:SIG and whether it is aimed at the thread id. */
const STOPS: [string, boolean][] = [
  ["kill:STOP", false],
  ["tkill:STOP", true],
  ["pgrp:STOP", false],
  ["pidfd:STOP", true],
  ["sigqueue:TSTP", false],
  ["kill:TTIN", false],
  ["kill:TTOU", false],
];

Deno.test({
  name:
    "stop signals from outside do not stop a protected process (its child and thread either); the control stops",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let t: Target | undefined, c: Target | undefined;
    try {
      c = await Target.start(null, { thread: true, tag: "stop-control" });
      // F_SETSIG: while nothing is protected, arming it works
      const armed = await run(SIGNAL, ["sigio:STOP", String(c.parent.pid)]);
      assert.equal(armed.code, 0, armed.stdout + armed.stderr);
      assert.equal(
        await until(() => stateOf(c!.parent.pid), (s) => s === "T"),
        "T",
      );
      Deno.kill(c.parent.pid, "SIGCONT");
      t = await Target.start(e.socket, {
        fork: true,
        thread: true,
        tag: "stop",
      });
      for (const [how, thread] of STOPS) {
        const before = e.out.lines.length;
        const to = thread ? t.parent.tid : t.parent.pid;
        const r = await run(SIGNAL, [how, String(to)]);
        await assertStopped(e, how, r, before, t.parent.pid, t.secret);
        if (!e.ready.lsm) {
          const sig = how.split(":")[1];
          const fix = await repaired(e, before, t.parent.pid, sig);
          assert.equal(fix.target_action, "sigcont", JSON.stringify(fix));
        }
        // give a stop every chance to show
        await new Promise((res) => setTimeout(res, 100));
        assert.notEqual(stateOf(t.parent.pid), "T", how);
        assert.notEqual(stateOf(t.child!.pid), "T", how);
      }
      // F_SETSIG: LSM refuses the delivery, the tracepoint tier kills the
      // one who arms it
      const before = e.out.lines.length;
      const r = await run(SIGNAL, ["sigio:STOP", String(t.parent.pid)]);
      await new Promise((res) => setTimeout(res, 100));
      assert.notEqual(stateOf(t.parent.pid), "T", "sigio");
      if (!e.ready.lsm) {
        await assertStopped(e, "sigio:STOP", r, before, t.parent.pid, t.secret);
      }
      // the control stops, every way (F_SETSIG only under LSM: the
      // tracepoint tier refuses arming it to all while anything is protected)
      const ways = e.ready.lsm
        ? [...STOPS, ["sigio:STOP", false] as const]
        : STOPS;
      for (const [how, thread] of ways) {
        const to = thread ? c.parent.tid : c.parent.pid;
        const r = await run(SIGNAL, [how, String(to)]);
        assert.equal(r.code, 0, `${how}: ${r.stdout}${r.stderr}`);
        const s = await until(() => stateOf(c!.parent.pid), (s) => s === "T");
        assert.equal(s, "T", how);
        Deno.kill(c.parent.pid, "SIGCONT");
        await until(() => stateOf(c!.parent.pid), (s) => s !== "T");
      }
      const checks = await t.selfCheck();
      assert.deepEqual(checks.map((x) => x.self_check), ["ok", "ok"]);
    } finally {
      await t?.finish();
      await c?.finish();
      await e.stop();
    }
  },
});

const CORES: [string, boolean, Deno.Signal][] = [
  ["kill:QUIT", false, "SIGQUIT"],
  ["tkill:SEGV", true, "SIGSEGV"],
  ["sigqueue:ABRT", false, "SIGABRT"],
];

Deno.test({
  name:
    "core-dumping signals from outside cannot make a protected process dump core; the control dies of them",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      for (const [how, thread, sig] of CORES) {
        const t = await Target.start(e.socket, { thread: true, tag: "core" });
        try {
          const before = e.out.lines.length;
          const to = thread ? t.parent.tid : t.parent.pid;
          const r = await run(SIGNAL, [how, String(to)]);
          await assertStopped(e, how, r, before, t.parent.pid, t.secret);
          if (e.ready.lsm) {
            assert.equal(await t.exited(300), undefined, `${how}: it died`);
          } else {
            // it died of SIGKILL before it could dump
            const fix = await repaired(e, before, t.parent.pid, sig.slice(3));
            assert.equal(fix.target_action, "sigkill", JSON.stringify(fix));
            assert.equal((await t.exited())?.signal, "SIGKILL", how);
          }
        } finally {
          await t.finish();
        }
        const c = await Target.start(null, {
          thread: true,
          tag: "core-control",
        });
        try {
          const to = thread ? c.parent.tid : c.parent.pid;
          const r = await run(SIGNAL, [how, String(to)]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.equal((await c.exited())?.signal, sig, how);
        } finally {
          await c.finish();
        }
      }
    } finally {
      await e.stop();
    }
  },
});

Deno.test({
  name:
    "SIGTERM, SIGHUP, SIGUSR1/2 and SIGKILL still reach a protected process and do not harm the sender",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      for (const sig of ["TERM", "HUP", "USR2", "KILL"]) {
        const t = await Target.start(e.socket, { tag: "allowed" });
        try {
          const r = await run(SIGNAL, [`kill:${sig}`, String(t.parent.pid)]);
          assert.equal(r.code, 0, `${sig}: ${r.stdout}${r.stderr}`);
          const s = await t.exited();
          // ct-target exits 0 on SIGTERM (it waits for it), dies otherwise
          if (sig === "TERM") assert.equal(s?.code, 0);
          else assert.equal(s?.signal, `SIG${sig}`);
        } finally {
          await t.finish();
        }
      }
      // SIGUSR1 makes it check itself: delivered, and answered
      const t = await Target.start(e.socket, { tag: "allowed" });
      try {
        const r = await run(SIGNAL, ["kill:USR1", String(t.parent.pid)]);
        assert.equal(r.code, 0);
        await t.out.waitFor((l) =>
          t.out.lines.indexOf(l) > 1 && l.target === "parent"
        );
      } finally {
        await t.finish();
      }
    } finally {
      await e.stop();
    }
  },
});
