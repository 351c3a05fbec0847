/**
 * The wrapper in real containers, as a pod runs it: the wrapper image
 * installs itself into a memory volume (an init container), then each app
 * image (static in an empty image, glibc-dynamic with only its own libraries,
 * musl) runs `/cloudtaser/cloudtaser-wrapper -- /app` as its PID 1, with a
 * read-only root, no capabilities, no-new-privileges, the runtime's default
 * seccomp profile and the machine's default RLIMIT_MEMLOCK, as uid 65534
 * (and, as a control, as uid 0). Each run proves: the app gets its secrets
 * (by fingerprint), its environment holds nothing of the wrapper's,
 * `podman kill --signal` reaches it, an orphan is reaped, `podman stop` ends
 * it and `podman wait` returns its exit code.
 */
import assert from "node:assert/strict";
import { bytesSource, parseElf } from "../../src/delivery/elf.ts";
import { LAYOUT } from "../../src/cli/install.ts";
import { type AppKind, wrapperImageKind } from "../support/images.ts";
import type { Container } from "../support/podman.ts";
import {
  Fixture,
  fnv1a64,
  HARDENED,
  INSTALL_DIR,
  parseApp,
  until,
  wrapperLog,
} from "../support/container.ts";

const IMAGE = wrapperImageKind();
const KINDS: AppKind[] = ["static", "glibc", "musl"];
let opened: Promise<Fixture> | undefined;
const fixture = () => opened ??= Fixture.open(KINDS);
// The fixture's OpenBao and podman outlive each test by design.
const shared = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    `the wrapper image installs itself into a memory volume as uid 65534, ` +
    `read-only root, no capabilities (wrapper image: ${IMAGE.note})`,
  ...shared,
  async fn() {
    const f = await fixture();
    assert.equal(f.install.code, 0, f.install.stderr);
    assert.equal(
      f.install.stdout.trim(),
      `installed: ${INSTALL_DIR}/cloudtaser-wrapper (${IMAGE.kind})`,
    );
    // A second init container finds it all in place.
    const again = await f.podman.runToEnd({
      image: f.wrapper.tag,
      ...HARDENED,
      mounts: [{ source: f.volume, target: INSTALL_DIR }],
    });
    f.outputs.push(again.stdout, again.stderr);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^already installed: /);

    const at = (rel: string) => `${f.volume}/${rel}`;
    const elf = (rel: string) =>
      parseElf(bytesSource(Deno.readFileSync(at(rel))));
    // The launcher needs no libc; the loader it runs is in the layout.
    const launcher = elf(LAYOUT.launcher);
    assert.ok(launcher, "the launcher is an ELF file");
    assert.equal(launcher.interp, undefined, "the launcher is static");
    assert.ok(elf(LAYOUT.loader), "lib/ld.so is there");
    assert.ok(Deno.statSync(at(`${LAYOUT.lib}/libc.so.6`)).isFile);
    const program = IMAGE.kind === "compiled" ? LAYOUT.compiled : LAYOUT.deno;
    assert.ok(Deno.statSync(at(program)).isFile, program);
    // Written by the init container's user, readable by any app user.
    const st = Deno.statSync(at(LAYOUT.launcher));
    assert.equal(st.uid, 65534);
    assert.equal(st.mode! & 0o777, 0o755);
  },
});

for (const kind of KINDS) {
  for (const uid of [65534, 0]) {
    const interposer = kind === "glibc";
    Deno.test({
      name: `${kind} app as uid ${uid}${uid === 0 ? " (control)" : ""}: ` +
        `secrets by ${interposer ? "interposer" : "env"}, PID 1, podman ` +
        `kill/stop reach it, podman wait gives its exit code, no zombie ` +
        `(wrapper image: ${IMAGE.kind})`,
      ...shared,
      async fn() {
        const f = await fixture();
        const c = await f.startApp(kind, {
          ...HARDENED,
          user: `${uid}:${uid}`,
        }, { CLOUDTASER_DELIVERY: "auto" });
        try {
          await runsAsAPod(f, c, kind, uid);
        } finally {
          await f.logs(c).catch(() => {});
          await c.remove();
        }
      },
    });
  }
}

async function runsAsAPod(
  f: Fixture,
  c: Container,
  kind: AppKind,
  uid: number,
): Promise<void> {
  const interposer = kind === "glibc";
  await c.waitForLog(/^app ready$/m, 60_000);
  const { stdout, stderr } = await f.logs(c);
  const app = parseApp(stdout);

  // The secrets, by fingerprint; with the interposer none is in the
  // app's /proc/<pid>/environ, with env delivery both are.
  for (const [name, value] of Object.entries(f.secrets)) {
    const got = app.secrets.get(name);
    assert.ok(got, `${name} reached the app`);
    assert.equal(got.len, value.length, name);
    assert.equal(got.fnv, fnv1a64(value), name);
    assert.equal(got.inEnviron, !interposer, `${name} in the app's environ`);
  }
  assert.equal(app.interposer, interposer, "interposer mapped in the app");
  const score = wrapperLog(stderr).find((l) =>
    String(l.message).startsWith("protection score")
  );
  assert.equal(score?.delivery, interposer ? "interposer" : "env");
  assert.equal(
    (score?.missing as string[]).includes("getenv_interposer"),
    !interposer,
  );

  // The app's environment holds nothing of the wrapper: no loader
  // variable but the interposer's LD_PRELOAD (which the interposer itself
  // takes out of environ), no configuration.
  const allowed = interposer ? ["LD_PRELOAD", "CLOUDTASER_SECRET_FD"] : [];
  const foreign = app.env.filter((n) =>
    /^(LD_|VAULT_|BAO_|CLOUDTASER_)/.test(n) && !allowed.includes(n)
  );
  assert.deepEqual(foreign, [], `app env: ${app.env.join(",")}`);

  // As the container was told to run it.
  assert.equal(app.uid, uid);
  assert.match(app.capEff, /^0+$/, "no capabilities");
  assert.equal(app.seccomp, "2", "the runtime's seccomp filter is on");
  assert.equal(app.noNewPrivs, "1");

  // The supervisor is the container's PID 1 and the app's parent.
  assert.equal(app.ppid, 1);
  const procs = await c.processes();
  const init = procs.find((p) => p.nsPid === 1);
  assert.ok(init, `a PID 1 among ${JSON.stringify(procs)}`);
  assert.match(
    Deno.readLinkSync(`/proc/${init.pid}/exe`),
    /memfd:cloudtaser-supervisor/,
  );
  const appProc = procs.find((p) => p.nsPid === app.pid);
  assert.equal(appProc?.ppid, init.pid);
  // The orphan: its parent exited, so it was reparented to PID 1.
  assert.ok(app.orphan);
  const orphan = procs.find((p) => p !== init && p !== appProc);
  assert.ok(orphan, `an orphan among ${JSON.stringify(procs)}`);
  assert.equal(orphan.ppid, init.pid, "the orphan's parent is PID 1");

  // Signals sent to the container reach the app through PID 1.
  for (const sig of ["SIGUSR1", "SIGHUP"] as const) {
    await c.kill(sig);
    await c.waitForLog(new RegExp(`^app signal ${sig.slice(3)}$`, "m"));
  }
  // SIGUSR2 lets the orphan exit: PID 1 must reap it, leaving no zombie.
  await c.kill("SIGUSR2");
  await c.waitForLog(/^app signal USR2$/m);
  const settled = await until("the orphan to be reaped", async () => {
    const now = await c.processes();
    return now.length === 2 && now.every((p) => p.state !== "Z")
      ? now
      : undefined;
  });
  assert.deepEqual(
    settled.map((p) => p.nsPid).sort((a, b) => a - b),
    [1, app.pid],
  );

  // podman stop sends SIGTERM; the app exits 42 and podman wait says so.
  await c.stop(30);
  assert.equal(await c.wait(), 42);
  const end = await f.logs(c);
  assert.match(end.stdout, /^app signal TERM$/m);
  assert.deepEqual(await c.processes(), []);
}

Deno.test({
  name: "control: with the app itself as PID 1 (no wrapper) the orphan stays " +
    "a zombie, which the zombie check above sees",
  ...shared,
  async fn() {
    const f = await fixture();
    const c = await f.startBareApp("static", HARDENED);
    try {
      await c.waitForLog(/^app ready$/m, 30_000);
      await c.kill("SIGUSR2");
      await c.waitForLog(/^app signal USR2$/m);
      const zombie = await until("the orphan to become a zombie", async () => {
        const z = (await c.processes()).find((p) => p.state === "Z");
        return z;
      });
      assert.equal(zombie.ppid, await c.hostPid(), "its parent is the app");
    } finally {
      await f.logs(c).catch(() => {});
      await c.remove();
    }
  },
});

Deno.test({
  name: "podman kill --signal SIGINT: the app dies of it and podman wait " +
    `gives 130 (glibc app, uid 65534; wrapper image: ${IMAGE.kind})`,
  ...shared,
  async fn() {
    const f = await fixture();
    const c = await f.startApp("glibc", HARDENED);
    try {
      await c.waitForLog(/^app ready$/m, 60_000);
      await c.kill("SIGINT");
      assert.equal(await c.wait(), 130);
      assert.match((await f.logs(c)).stdout, /^app signal INT$/m);
    } finally {
      await c.remove();
    }
  },
});

Deno.test({
  name:
    "interposer delivery is refused for the static and musl apps: exit 3, " +
    `the app never starts (uid 65534; wrapper image: ${IMAGE.kind})`,
  ...shared,
  async fn() {
    const f = await fixture();
    for (const kind of ["static", "musl"] as const) {
      const c = await f.startApp(kind, HARDENED, {
        CLOUDTASER_DELIVERY: "interposer",
      });
      try {
        assert.equal(await c.wait(), 3, kind);
        const { stdout, stderr } = await f.logs(c);
        assert.equal(stdout, "", `${kind}: the app printed nothing`);
        assert.match(stderr, /CLOUDTASER_DELIVERY=interposer cannot work/);
      } finally {
        await c.remove();
      }
    }
  },
});

Deno.test({
  name: "no test secret reached any container's output",
  ...shared,
  async fn() {
    const f = await fixture();
    try {
      f.assertNoSecretInOutput();
    } finally {
      await f.close();
    }
  },
});
