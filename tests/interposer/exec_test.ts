/**
 * Programs the app starts, in interposer delivery: every exec and spawn
 * function glibc offers hands a glibc-dynamic child a region of its own, so
 * the child reads its secrets through getenv while its /proc/<pid>/environ
 * holds none; a child that cannot load the interposer (static, musl) is
 * refused with EPERM and a message naming it, or, with
 * CLOUDTASER_CHILD_ENV_FALLBACK, gets its secrets in its environment.
 *
 * The app is build/exec_probe (or a shell) started by build/region_exec; the
 * grandchild is build/interposer_probe, which prints "ready <pid>" and waits
 * while the test reads its /proc entries from outside.
 */
import assert from "node:assert/strict";
import {
  assertNoLeak,
  BUILD,
  launch,
  makeSecrets,
  probeLine,
  run,
} from "../support/interposer.ts";
import { fdTargets } from "../support/proc.ts";

const PROBE = BUILD("interposer_probe");
const STATIC = BUILD("interposer_probe_static");
const MUSL = BUILD("interposer_probe_musl");
const EXEC = BUILD("exec_probe");
const dec = new TextDecoder();

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The probe's operations for every secret, then wait. */
function probeOps(secrets: Record<string, string>): string[] {
  return [
    ...Object.keys(secrets).flatMap((k) => ["get", k, "where", k]),
    "wait",
  ];
}

/** What /proc/<pid> shows of a running grandchild. */
function inspect(pid: number, secrets: Record<string, string>) {
  const environ = dec.decode(Deno.readFileSync(`/proc/${pid}/environ`));
  for (const [k, v] of Object.entries(secrets)) {
    assert.ok(!environ.includes(`${k}=`), `${k} in /proc/${pid}/environ`);
    if (v !== "") {
      assert.ok(!environ.includes(v), `a value in /proc/${pid}/environ`);
    }
  }
  assert.match(
    Deno.readTextFileSync(`/proc/${pid}/maps`),
    /\/secretmem/,
    "the grandchild maps a region of its own",
  );
  for (const [fd, t] of fdTargets(pid)) {
    assert.doesNotMatch(t, /secretmem|memfd:cloudtaser/, `fd ${fd} -> ${t}`);
  }
}

function readyPid(out: string): number {
  const m = /^ready (\d+)$/m.exec(out);
  assert.ok(m, out);
  return Number(m[1]);
}

/** Every secret read correctly, from the grandchild's own region. */
function assertRead(stdout: string, secrets: Record<string, string>) {
  const lines = stdout.split("\n");
  for (const [k, v] of Object.entries(secrets)) {
    assert.ok(lines.includes(probeLine("get", k, v)), `get ${k}`);
    assert.ok(lines.includes(`where ${k} secretmem`), `where ${k}`);
  }
}

const VARIANTS = [
  "execve",
  "execv",
  "execvp",
  "execvpe",
  "execl",
  "execle",
  "execlp",
  "fexecve",
  "execveat",
  "posix_spawn",
  "posix_spawnp",
  "posix_spawn_fa",
  "system",
  "popen",
];

for (const variant of VARIANTS) {
  Deno.test(`${variant}: the started program reads its secrets from a region of its own; its environ and fds hold none`, async () => {
    const secrets = makeSecrets(variant);
    const ops = probeOps(secrets);
    const shell = variant === "system" || variant === "popen";
    // execl* pass at most 6 arguments: one secret is enough for them.
    const few = variant.startsWith("execl");
    const used = few
      ? Object.fromEntries([Object.entries(secrets)[0]])
      : secrets;
    const cmd = shell
      ? [EXEC, variant, [PROBE, ...probeOps(used)].join(" ")]
      : [EXEC, variant, PROBE, ...(few ? probeOps(used) : ops)];
    const app = await launch({ mode: "interposer", secrets, cmd });
    try {
      const pid = readyPid(await app.until("ready"));
      inspect(pid, used);
      if (variant.startsWith("posix_spawn") || shell) {
        // The app (exec_probe, waiting) kept no region fd either.
        for (const [fd, t] of fdTargets(app.pid)) {
          assert.doesNotMatch(t, /secretmem|memfd:cloudtaser/, `app fd ${fd}`);
        }
      }
    } finally {
      const r = await app.finish();
      assert.equal(r.code, 0, r.stderr);
      assertRead(r.stdout, used);
      assert.equal(r.stderr, "");
      assertNoLeak(secrets);
    }
  });
}

for (
  const [name, file] of [["static", STATIC], ["musl", MUSL]] as const
) {
  Deno.test({
    name:
      `a ${name} program the app starts: exec fails with EPERM and a message naming it; with CLOUDTASER_CHILD_ENV_FALLBACK it gets env delivery`,
    ignore: !exists(file),
    async fn() {
      const secrets = makeSecrets(name);
      const [k, v] = Object.entries(secrets)[0];
      for (const variant of ["execve", "posix_spawn", "system"]) {
        const target = variant === "system" ? `${file} get ${k}` : file;
        const args = variant === "system" ? [] : ["get", k];
        const r = await run({
          mode: "interposer",
          secrets,
          cmd: [EXEC, variant, target, ...args],
        });
        // system: the shell is interposable; the shell's exec is refused.
        assert.equal(r.code, 126, `${variant}: ${r.stderr}`);
        assert.equal(r.stdout, "");
        const line = r.stderr.split("\n").find((l) => l.startsWith("{"));
        assert.ok(line, r.stderr);
        const msg = JSON.parse(line);
        assert.equal(msg.level, "error");
        assert.equal(msg.program, "cloudtaser-interposer");
        assert.equal(
          msg.message.startsWith(`exec of ${file} refused: `),
          true,
          msg.message,
        );
        assert.match(msg.message, /CLOUDTASER_CHILD_ENV_FALLBACK=true/);
        assert.match(
          r.stderr,
          variant === "system"
            ? /Operation not permitted/
            : new RegExp(`${variant} failed: EPERM`),
        );
      }
      // The fallback: the same program runs and reads the secret from its
      // environment, which the kernel shows.
      const app = await launch({
        mode: "interposer",
        secrets,
        cmd: [EXEC, "execve", file, "get", k, "wait"],
        launcherFlags: ["--flags", "1"],
      });
      try {
        const pid = readyPid(await app.until("ready"));
        const environ = dec.decode(Deno.readFileSync(`/proc/${pid}/environ`));
        assert.ok(environ.includes(v), "env delivery: the value is in environ");
      } finally {
        const r = await app.finish();
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.includes(probeLine("get", k, v)));
        assert.match(r.stderr, /receives its secrets in its environment/);
        assertNoLeak(secrets);
      }
    },
  });
}

Deno.test("shell chains keep interposer delivery: bash, sh -c, #!/usr/bin/env, #!/bin/sh, a script without #!, values derived from a secret", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "ct-chain-" });
  try {
    const secrets = makeSecrets("chain");
    const [k, v] = Object.entries(secrets)[0];
    const write = (name: string, text: string) => {
      Deno.writeTextFileSync(`${dir}/${name}`, text, { mode: 0o755 });
      return `${dir}/${name}`;
    };
    const viaEnv = write(
      "via-env",
      `#!/usr/bin/env bash\nexec ${PROBE} "$@"\n`,
    );
    const viaSh = write("via-sh", `#!/bin/sh\n${viaEnv} "$@"\n`);
    const noShebang = write("no-shebang", `exec ${PROBE} "$@"\n`);
    const derived = {
      ...secrets,
      CT_URL: `postgres://app:${v}@db/app`,
      CT_RENAMED: v,
    };
    const chains: [string, string[], Record<string, string>][] = [
      ["bash -c", ["bash", "-c", `${PROBE} "$@"`, "bash"], secrets],
      ["sh -c", ["sh", "-c", `exec ${PROBE} "$@"`, "sh"], secrets],
      ["#!/usr/bin/env", [viaEnv], secrets],
      ["#!/bin/sh -> #!/usr/bin/env", [viaSh], secrets],
      ["execvp of a file without #!", [EXEC, "execvp", noShebang], secrets],
      [
        "derived values",
        [
          "bash",
          "-c",
          `export CT_URL="postgres://app:$${k}@db/app" CT_RENAMED="$${k}"; exec ${PROBE} "$@"`,
          "bash",
        ],
        derived,
      ],
    ];
    for (const [name, prefix, expect] of chains) {
      const app = await launch({
        mode: "interposer",
        secrets,
        cmd: [...prefix, ...probeOps(expect)],
      });
      try {
        const pid = readyPid(await app.until("ready"));
        inspect(pid, expect);
      } finally {
        const r = await app.finish();
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        assertRead(r.stdout, expect);
        assert.equal(r.stderr, "", name);
      }
    }
    assertNoLeak(secrets);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an exec whose environment holds no secret is left alone: no region, no LD_PRELOAD", async () => {
  const secrets = makeSecrets("clean");
  const app = await launch({
    mode: "interposer",
    secrets,
    cmd: ["env", "-i", "HOME=/h", PROBE, "get", "HOME", "wait"],
  });
  try {
    const pid = readyPid(await app.until("ready"));
    const environ = dec.decode(Deno.readFileSync(`/proc/${pid}/environ`));
    assert.equal(environ, "HOME=/h\0");
    assert.doesNotMatch(
      Deno.readTextFileSync(`/proc/${pid}/maps`),
      /secretmem|libcloudtaser_interposer/,
    );
  } finally {
    const r = await app.finish();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(probeLine("get", "HOME", "/h")));
  }
});

Deno.test("a failed exec leaves no region fd behind and keeps the kernel's errno", async () => {
  const secrets = makeSecrets("fail");
  for (const variant of ["execve", "execvp", "posix_spawn", "posix_spawnp"]) {
    const r = await run({
      mode: "interposer",
      secrets,
      cmd: [EXEC, variant, "/nonexistent/ct-no-such-program"],
    });
    assert.equal(r.code, 127, `${variant}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^${variant} failed: ENOENT$`, "m"));
  }
  // bash keeps running after a failed exec: its fds show no region.
  const app = await launch({
    mode: "interposer",
    secrets,
    cmd: [
      "bash",
      "-c",
      `/nonexistent/ct-x; ${STATIC} x; echo "ready $$"; cat >/dev/null`,
    ],
  });
  try {
    const pid = readyPid(await app.until("ready"));
    for (const [fd, t] of fdTargets(pid)) {
      assert.doesNotMatch(t, /secretmem|memfd:cloudtaser/, `fd ${fd} -> ${t}`);
    }
  } finally {
    const r = await app.finish();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /No such file or directory/);
    assert.match(r.stderr, /Operation not permitted/);
  }
  assertNoLeak(secrets);
});

Deno.test("a large environment (40,000 entries, scratch beyond the stack budget) still hands over", async () => {
  const secrets = makeSecrets("large");
  const [k, v] = Object.entries(secrets)[0];
  const env: Record<string, string> = {};
  for (let i = 0; i < 40_000; i++) env[`CT_FILL_${i}`] = "x";
  for (const variant of ["execve", "posix_spawn"]) {
    const r = await run({
      mode: "interposer",
      secrets,
      env,
      cmd: [EXEC, variant, PROBE, "get", k, "where", k, "get", "CT_FILL_39999"],
    });
    assert.equal(r.code, 0, `${variant}: ${r.stderr}`);
    assert.ok(r.stdout.includes(probeLine("get", k, v)), variant);
    assert.ok(r.stdout.includes(`where ${k} secretmem`), variant);
    assert.ok(r.stdout.includes(probeLine("get", "CT_FILL_39999", "x")));
  }
  assertNoLeak(secrets);
});

Deno.test("a stray write that breaks the app's copy (its canary) makes the next exec fail with EPERM, naming why", async () => {
  const secrets = makeSecrets("smash");
  const [k] = Object.keys(secrets);
  const r = await run({
    mode: "interposer",
    secrets,
    cmd: [PROBE, "smash", k, "exec", PROBE, "get", k],
  });
  assert.equal(r.code, 127, r.stderr); // the probe's own exit after execvp
  assert.ok(r.stdout.includes(`smash ${k} done`), r.stdout);
  assert.ok(!r.stdout.includes(`get ${k}`), "the exec went ahead");
  assert.match(r.stderr, /refused: the app's secret region is damaged/);
  assert.match(r.stderr, /execvp: Operation not permitted/);
  assertNoLeak(secrets);
});
