/**
 * Killing the daemon must not drop protection: its programs' links and its
 * maps are pinned in bpffs (each test here has its own bpffs instance), a
 * restarted daemon adopts them and their registrations, and only
 * `--uninstall` removes them. Nobody else gets a writable fd for its maps
 * or an fd for its links, by id or from a pin.
 */
import assert from "node:assert/strict";
import {
  ATTACK,
  attackStopped,
  ctAttack,
  Enforcer,
  run,
  Target,
} from "../support/enforcer.ts";

const ignore = Deno.uid() !== 0;

function pinNames(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((d) => d.name).sort();
  } catch {
    return [];
  }
}

/** Our programs, by name (`bpftool prog show` would be killed while they
 * run under the tracepoint tier; program fds are open to all). */
async function ourProgramsLoaded(): Promise<boolean> {
  for (const name of ["ct_fork", "ct_exit"]) {
    const r = await run(ATTACK, ["bpf_progs", name]);
    if (r.code !== 0) return true;
  }
  return false;
}

Deno.test({
  name:
    "after kill -9 of the daemon protection holds; a restarted daemon adopts the pins and registrations; --uninstall frees all",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    let t: Target | undefined, late: Target | undefined;
    let e2: Enforcer | undefined;
    try {
      assert.equal(e.ready.adopted, false);
      const pins = pinNames(e.pins.pins);
      assert.ok(
        pins.includes("map_protected") && pins.includes("map_conf"),
        pins.join(),
      );
      assert.ok(
        pins.filter((p) => p.startsWith("link_")).length >= 4,
        pins.join(),
      );
      t = await Target.start(e.socket, { tag: "pinned" });
      const { status } = await e.exit("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
      // nobody runs the daemon now: the pinned programs still stop attacks
      assert.deepEqual(pinNames(e.pins.pins), pins);
      const r = await run("cat", [`/proc/${t.parent.pid}/environ`]);
      assert.ok(!r.stdout.includes(t.secret), "secret leaked");
      assert.ok(r.code !== 0, `cat worked: ${r.code}`);
      if (!e.ready.lsm) assert.equal(r.signal, "SIGKILL");
      // a new daemon adopts: same programs, the registration kept, and the
      // denial made while it was down waits in the pinned ring buffer
      e2 = await Enforcer.start({ pins: e.pins });
      assert.equal(e2.ready.adopted, true, JSON.stringify(e2.ready));
      assert.equal(e2.ready.registrations, 1);
      assert.equal(e2.ready.tier, e.ready.tier);
      await e2.out.waitFor(
        (l) =>
          l.event === "denial" && l.target === t!.parent.pid &&
          (l.accessor as { pid: number }).pid === r.pid,
        3000,
        "the denial made while no daemon ran",
      );
      await attackStopped(e2, ctAttack("process_vm_readv"), t.parent, t.secret);
      late = await Target.start(e2.socket, { tag: "late" });
      assert.equal(late.registration?.registered, true);
      await attackStopped(e2, ctAttack("environ"), late.parent, late.secret);
      // SIGTERM: the daemon exits 0 and leaves the pins in place
      const term = await e2.exit("SIGTERM");
      assert.equal(term.status.code, 0, term.stderr);
      assert.deepEqual(pinNames(e.pins.pins), pins);
      // --uninstall removes them, and the programs go (RCU: poll)
      const u = await e.pins.uninstall();
      assert.equal(u.code, 0, u.stderr);
      assert.match(u.stdout, new RegExp(`"removed":${pins.length}`));
      assert.deepEqual(pinNames(e.pins.pins), []);
      let loaded = true;
      for (let i = 0; i < 50 && loaded; i++) {
        loaded = await ourProgramsLoaded();
        if (loaded) await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(loaded, false, "our programs are still loaded");
      // protection is really gone: the late target is readable again
      const after = await run(ATTACK, ["environ", String(late.parent.pid)]);
      assert.match(after.stdout, /"saw_secret":true/, after.stdout);
    } finally {
      await late?.finish();
      await t?.finish();
      await (e2 ?? e).stop();
    }
  },
});

Deno.test({
  name: "a pin removed while the daemon runs is pinned again",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      const pin = `${e.pins.pins}/map_protected`;
      const before = e.out.lines.length;
      // under LSM the unlink itself is refused (the VM test)
      const rm = await run("rm", [pin]);
      if (e.ready.lsm) {
        assert.notEqual(rm.code, 0);
      } else {
        assert.equal(rm.code, 0, rm.stderr);
        await e.out.waitFor(
          (l) =>
            e.out.lines.indexOf(l) >= before && l.event === "repinned" &&
            l.name === "map_protected",
          3000,
          "repinned",
        );
      }
      Deno.statSync(pin);
    } finally {
      await e.stop();
    }
  },
});

Deno.test({
  name:
    "nobody but the enforcer gets a writable fd for its maps or links, by id or from a pin",
  ignore,
  async fn() {
    const e = await Enforcer.start();
    try {
      const attempts: [string, string[]][] = [
        ["bpftool", ["link", "show"]],
        [ATTACK, ["bpf_objects", "0"]],
        [ATTACK, ["bpf_pinned", e.pins.pins]],
      ];
      for (const [cmd, args] of attempts) {
        const before = e.out.lines.length;
        const r = await run(cmd, args, 8000);
        const ev = await e.out.waitFor(
          (l) =>
            e.out.lines.indexOf(l) >= before && l.event === "denial" &&
            String(l.what).startsWith("bpf:") &&
            (l.accessor as { pid: number }).pid === r.pid,
          3000,
          `a denial for ${cmd} ${args[0]}`,
        );
        assert.equal(ev.action, e.ready.lsm ? "denied" : "killed");
        if (!e.ready.lsm) assert.equal(r.signal, "SIGKILL", `${cmd} ${args}`);
      }
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
      // listing programs by id stays open to all (and finds ours)
      const list = await run(ATTACK, ["bpf_progs", "ct_fork"]);
      assert.equal(list.code, 1, list.stdout);
    } finally {
      await e.stop();
    }
  },
});
