/**
 * The start-up window on this host's tier (issue 11, hole 1): a target
 * that registers first and only then creates its memfd_secret region
 * (`ct-register -- ct-target --late-region`, the wrapper's order), its
 * region fd open for 300 ms. The tracepoint tier kills whoever calls
 * `pidfd_getfd` on it, but only after the call has installed the fd: a
 * lone attacker dies with it, while a process sharing the attacker's fd
 * table (`clone(CLONE_FILES)`) keeps it and reads the secret. That is the
 * tier's documented limit (docs/enforcer.md, docs/security.md); the LSM
 * tier refuses the call itself (tests/enforcer/vm_test.ts). The control,
 * not registered, loses its fd to the same attack with the attacker alive.
 */
import assert from "node:assert/strict";
import {
  ATTACK,
  Enforcer,
  LineReader,
  REGISTER,
  REPO,
  run,
  secret,
  TARGET,
} from "../support/enforcer.ts";

const built = (() => {
  try {
    Deno.statSync(`${REPO}build/cloudtaser-enforcer`);
    return true;
  } catch {
    return false;
  }
})();
const ignore = Deno.uid() !== 0 || !built;

/** A late-region target; resolves once its region fd is open. */
async function lateTarget(socket: string | null) {
  const dir = await Deno.makeTempDir();
  const go = `${dir}/go`;
  const args = [TARGET, "--late-region", go];
  const proc = new Deno.Command(socket ? REGISTER : TARGET, {
    args: socket ? [socket, "--", ...args] : args.slice(1),
    env: { CT_SECRET: secret("late") },
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const out = new LineReader(proc.stdout);
  const started = await out.waitFor((l) => l.target === "late", 5000, "start");
  if (socket) {
    assert.equal(
      out.lines.find((l) => "registered" in l)?.registered,
      true,
      "not registered",
    );
  }
  await Deno.writeTextFile(go, "");
  const open = await out.waitFor((l) => l.open === true, 5000, "region");
  return {
    pid: Number(started.pid),
    fd: Number(open.region_fd),
    async finish() {
      try {
        proc.kill("SIGKILL");
      } catch { /* exited */ }
      await proc.status;
      await out.done;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "tracepoint tier, start-up window: a lone pidfd_getfd attacker dies with the region fd; a CLONE_FILES sibling keeps it (the tier's limit); the unregistered control loses it",
  ignore,
  async fn() {
    const enforcer = await Enforcer.start();
    try {
      if (enforcer.ready.tier === "lsm") {
        // Where LSM loads, the call itself is refused: the VM test's case.
        const t = await lateTarget(enforcer.socket);
        try {
          const r = await run(ATTACK, [
            "getfd_sibling",
            String(t.pid),
            "0",
            String(t.fd),
          ]);
          assert.match(r.stdout, /"getfd_err":"EPERM","stolen_secretmem":0/);
        } finally {
          await t.finish();
        }
        return;
      }
      // A lone attacker: killed, and the fd it stole dies with it.
      let t = await lateTarget(enforcer.socket);
      try {
        const lone = await run(ATTACK, [
          "pidfd_getfd",
          String(t.pid),
          "0",
          String(t.fd),
        ]);
        assert.equal(lone.signal, "SIGKILL", `lone attacker: ${lone.stdout}`);
        assert.doesNotMatch(lone.stdout, /saw_secret/);
      } finally {
        await t.finish();
      }
      // With a sibling sharing its fd table: the attacker is killed, the
      // sibling reads the secret through the fd the call installed.
      t = await lateTarget(enforcer.socket);
      try {
        const r = await run(ATTACK, [
          "getfd_sibling",
          String(t.pid),
          "0",
          String(t.fd),
        ]);
        assert.match(
          r.stdout,
          /"attacker":"killed","getfd_err":"","stolen_secretmem":1,"saw_secret":true/,
          `sibling: ${r.stdout} ${r.stderr}`,
        );
        console.log(
          `  tracepoint tier, CLONE_FILES sibling: ${r.stdout.trim()}`,
        );
      } finally {
        await t.finish();
      }
      // Control: not registered, the attacker lives and steals the fd.
      t = await lateTarget(null);
      try {
        const r = await run(ATTACK, [
          "getfd_sibling",
          String(t.pid),
          "0",
          String(t.fd),
        ]);
        assert.match(
          r.stdout,
          /"attacker":"alive","getfd_err":"","stolen_secretmem":1,"saw_secret":true/,
          `control: ${r.stdout} ${r.stderr}`,
        );
      } finally {
        await t.finish();
      }
    } finally {
      await enforcer.stop();
    }
  },
});
