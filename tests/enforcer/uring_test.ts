/**
 * io_uring opens and reads (IORING_OP_OPENAT + IORING_OP_READ, ct-uring)
 * pass no syscall tracepoint. Under BPF LSM `file_open` sees them anyway
 * (the VM test proves EPERM); on the tracepoint tier the enforcer refuses
 * io_uring itself while anything is protected: whoever is not protected,
 * not the enforcer and not on the allow list dies at io_uring_setup(),
 * io_uring_enter() or (a SQPOLL ring set up before) its next submission.
 */
import assert from "node:assert/strict";
import {
  assertStopped,
  type Attack,
  attackStopped,
  attackWorks,
  copyExecutable,
  Enforcer,
  program,
  REPO,
  run,
  type RunResult,
  Target,
  type TargetInfo,
  URING,
} from "../support/enforcer.ts";

const ignore = Deno.uid() !== 0 ||
  (() => {
    try {
      Deno.statSync(URING);
      return false;
    } catch {
      return true;
    }
  })();

const uring = (what: string, bin = URING): Attack =>
  program(bin, what, (t) => [what, String(t.pid), t.addr, String(t.fd)]);
const URING_ATTACKS = [uring("environ"), uring("mem"), uring("fd_reopen")];

Deno.test({
  name:
    "io_uring reads a process's environ, mem and fds with no open() or read() syscall",
  ignore,
  async fn() {
    // nothing is protected: the enforcer runs and lets io_uring be
    const e = await Enforcer.start();
    let c: Target | undefined;
    try {
      c = await Target.start(null, { tag: "uring-control" });
      for (const a of URING_ATTACKS) {
        const r = await attackWorks(a, c.parent);
        assert.match(r.stdout, /"saw_secret":true/, `${a.name}: ${r.stdout}`);
      }
      const strace = await run("strace", [
        "-f",
        "-e",
        "trace=open,openat,openat2,read,pread64",
        URING,
        "environ",
        String(c.parent.pid),
      ]);
      assert.doesNotMatch(strace.stderr, /\/proc\/\d+\/environ/, strace.stderr);
    } finally {
      await c?.finish();
      await e.stop();
    }
  },
});

Deno.test({
  name:
    "while something is protected, io_uring users are stopped; protected and allow-listed ones are not",
  ignore,
  async fn() {
    const allowed = copyExecutable(URING);
    const e = await Enforcer.start({ allow: [`io_uring:exe=${allowed}`] });
    let t: Target | undefined, c: Target | undefined;
    try {
      t = await Target.start(e.socket, { tag: "uring" });
      c = await Target.start(null, { tag: "uring-control" });
      for (const a of URING_ATTACKS) {
        const ev = await attackStopped(e, a, t.parent, t.secret);
        if (!e.ready.lsm) assert.match(String(ev.what), /^io_uring:/);
      }
      if (!e.ready.lsm) {
        // the tracepoint tier cannot see which file: it refuses io_uring
        // to every unprotected process, the control's reader too
        await attackStopped(e, uring("environ"), c.parent, c.secret);
      }
      // an allow-listed io_uring user is trusted: it reads the control
      const r = await attackWorks(uring("environ", allowed), c.parent);
      assert.match(r.stdout, /"saw_secret":true/);
      // a protected process may use io_uring (on itself here)
      const self = await run(
        `${REPO}build/enforcer/ct-register`,
        [e.socket, "--", URING, "environ", "0"],
        8000,
      );
      assert.equal(self.signal, null, self.stdout + self.stderr);
    } finally {
      await t?.finish();
      await c?.finish();
      await e.stop();
      Deno.removeSync(allowed.replace(/\/[^/]*$/, ""), { recursive: true });
    }
  },
});

/** ct-uring --sqpoll --hold: a SQPOLL ring set up now, kept busy (its
 * kernel thread submits NOPs, this process makes no syscall), reading the
 * target's environ after `seconds`. */
async function sqpollReader(t: TargetInfo, seconds: number) {
  const proc = new Deno.Command(URING, {
    args: ["--sqpoll", "--hold", String(seconds), "environ", String(t.pid)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = proc.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /"ready":true/, first);
  return {
    pid: proc.pid,
    async result(): Promise<RunResult> {
      let out = first;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      const status = await proc.status;
      return {
        pid: proc.pid,
        code: status.code,
        signal: status.signal,
        stdout: out,
        stderr: await new Response(proc.stderr).text(),
      };
    },
  };
}

Deno.test({
  name:
    "a SQPOLL ring set up before anything was protected is stopped at its next submission",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let t: Target | undefined, c: Target | undefined;
    try {
      if (e.ready.lsm) return; // no io_uring refusal there: file_open sees it
      c = await Target.start(null, { tag: "sqpoll-control" });
      // the ring is set up and busy while nothing is protected...
      const before = e.out.lines.length;
      const reader = await sqpollReader(c.parent, 8);
      // ...then something is, and the ring's kernel thread submits again
      t = await Target.start(e.socket, { tag: "sqpoll" });
      const r = await reader.result();
      const ev = await assertStopped(
        e,
        "ct-uring --sqpoll",
        r,
        before,
        -1,
        c.secret,
      );
      assert.equal(ev.what, "io_uring:submit");
    } finally {
      await t?.finish();
      await c?.finish();
      await e.stop();
    }
  },
});
