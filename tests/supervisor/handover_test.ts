/**
 * The hand-over from the wrapper to cloudtaser-supervisor, on the real
 * kernel: what the app receives, what the supervisor keeps, what it refuses.
 */
import assert from "node:assert/strict";
import { nativePath } from "../../ffi/mod.ts";
import {
  BASE_ENV,
  fdTargets,
  jsonLines,
  marker,
  Run,
  runToEnd,
  statusField,
  TESTAPP,
  until,
} from "../support/supervisor.ts";

const dec = new TextDecoder();

function environOf(pid: number): string[] {
  return dec.decode(Deno.readFileSync(`/proc/${pid}/environ`)).split("\0")
    .filter(Boolean);
}

/**
 * The supervisor closes the region fd right after the fork, while the app
 * execs: allow it that moment, then no fd may point at the region (or at any
 * memfd, the supervisor's own program included).
 */
async function supervisorDropsRegionFd(sup: number): Promise<void> {
  const held = () =>
    [...fdTargets(sup)].filter(([, t]) => /secretmem|memfd/.test(t));
  await until(
    `supervisor ${sup} closes the region fd (holds ${JSON.stringify(held())})`,
    () => held().length === 0,
    2000,
  );
}

Deno.test("env delivery: the app's environment is the passed env plus every record, nothing else", async () => {
  const secrets = { DB_PASSWORD: marker("db"), API_KEY: marker("api") };
  const r = await runToEnd(["/usr/bin/env"], { secrets });
  assert.equal(r.status.code, 0, r.stderr);
  const got = r.stdout.trim().split("\n").sort();
  const want = [
    ...BASE_ENV,
    `DB_PASSWORD=${secrets.DB_PASSWORD}`,
    `API_KEY=${secrets.API_KEY}`,
  ].sort();
  assert.deepEqual(got, want);
});

Deno.test("env delivery: a record replaces a passed entry of the same name", async () => {
  const secret = marker("shadow");
  const r = await runToEnd(["/usr/bin/env"], {
    secrets: { API_KEY: secret },
    env: [...BASE_ENV, "API_KEY=placeholder"],
  });
  assert.equal(r.status.code, 0, r.stderr);
  const keys = r.stdout.trim().split("\n").filter((l) =>
    l.startsWith("API_KEY=")
  );
  assert.deepEqual(keys, [`API_KEY=${secret}`]);
});

Deno.test("the supervisor keeps the wrapper's pid; its environ, cmdline and fds hold no secret", async () => {
  const secret = marker("pid");
  const run = new Run([TESTAPP, "sleep", "10000"], {
    secrets: { DB_PASSWORD: secret },
  });
  try {
    const app = await run.app();
    const sup = run.pid;
    assert.equal(statusField(app, "PPid"), String(sup));
    assert.match(
      Deno.readLinkSync(`/proc/${sup}/exe`),
      /memfd:cloudtaser-supervisor/,
    );
    assert.equal(statusField(sup, "Name"), "ct-supervisor");
    // The wrapper's own environment held the secret (HANDOVER_SECRETS); the
    // supervisor's is exactly the env it was handed.
    assert.deepEqual(environOf(sup), BASE_ENV);
    const cmdline = dec.decode(Deno.readFileSync(`/proc/${sup}/cmdline`));
    assert.ok(!cmdline.includes(secret));
    assert.match(
      cmdline,
      /^cloudtaser-supervisor\0--region-fd\0\d+\0--signal-fd\0\d+\0--delivery\0env\0--\0/,
    );
    // It keeps the mapping, not the fd; in env delivery the app gets no fd.
    const maps = Deno.readTextFileSync(`/proc/${sup}/maps`);
    assert.match(maps, /\/secretmem/);
    await supervisorDropsRegionFd(sup);
    // The kernel shows the new exe a moment before it closes the
    // close-on-exec fds, and the test app reads /proc/self/status as it
    // starts: wait (bounded) for the set to settle; a leak would stay.
    await until(
      `the app ${app} holds only stdio`,
      () => [...fdTargets(app).keys()].sort().join() === "0,1,2",
      2000,
    );
    Deno.kill(sup, "SIGTERM");
    assert.equal((await run.status()).code, 143);
  } finally {
    await run.close();
  }
});

for (const delivery of ["interposer", "fd"] as const) {
  Deno.test(`${delivery} delivery: CLOUDTASER_SECRET_FD is open in the app and closed in the supervisor`, async () => {
    const secret = marker(delivery);
    const run = new Run([TESTAPP, "sleep", "10000"], {
      delivery,
      secrets: { DB_PASSWORD: secret },
    });
    try {
      const app = await run.app();
      const env = environOf(app);
      const entry = env.find((e) => e.startsWith("CLOUDTASER_SECRET_FD="));
      assert.ok(entry, `app env: ${env}`);
      const fd = Number(entry.split("=")[1]);
      assert.ok(
        !env.some((e) => e.includes(secret)),
        "secret in the app's env",
      );
      // The kernel shows the new exe a moment before it closes the
      // close-on-exec fds: wait (bounded) for the set to settle.
      const want = [0, 1, 2, fd].sort().join();
      const appFds = await until(
        `the app's fds become ${want}`,
        () => {
          const t = fdTargets(app);
          return [...t.keys()].sort().join() === want ? t : undefined;
        },
        2000,
      ).catch(() => fdTargets(app));
      assert.match(appFds.get(fd) ?? "", /secretmem/);
      assert.deepEqual([...appFds.keys()].sort(), [0, 1, 2, fd].sort());
      await supervisorDropsRegionFd(run.pid);
      Deno.kill(run.pid, "SIGTERM");
      assert.equal((await run.status()).code, 143);
    } finally {
      await run.close();
    }
  });
}

Deno.test("before the app runs the supervisor fails closed: 125, a message, no app", async () => {
  const dir = Deno.makeTempDirSync();
  const witness = `${dir}/app-ran`;
  try {
    // fd delivery whose environment does not name the region fd: a real
    // region from region_exec, handed to the supervisor by hand without it.
    const noFd = await new Deno.Command(nativePath("region_exec"), {
      args: [
        "--mode",
        "fd",
        "--",
        "/bin/sh",
        "-c",
        'exec env -u CLOUDTASER_SECRET_FD "$0" --region-fd ' +
        '"$CLOUDTASER_SECRET_FD" --delivery fd -- /usr/bin/touch "$1"',
        nativePath("cloudtaser-supervisor"),
        witness,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(5000),
    }).spawn();
    const w = noFd.stdin.getWriter();
    await w.write(
      new TextEncoder().encode(`DB_PASSWORD=${marker("nofd")}\n\n`),
    );
    await w.close();
    const noFdOut = await noFd.output();
    assert.equal(noFdOut.code, 125, dec.decode(noFdOut.stderr));
    assert.match(
      String(jsonLines(dec.decode(noFdOut.stderr))[0]?.message),
      /^fd delivery needs CLOUDTASER_SECRET_FD=\d+ in the environment$/,
    );
    // A region fd that is no region (stdin, /dev/null), started by hand.
    const out = await new Deno.Command(nativePath("cloudtaser-supervisor"), {
      args: [
        "--region-fd",
        "0",
        "--delivery",
        "env",
        "--",
        "/usr/bin/touch",
        witness,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(5000),
    }).output();
    assert.equal(out.code, 125);
    assert.match(
      String(jsonLines(dec.decode(out.stderr))[0]?.message),
      /^region fd 0 is not a secret region/,
    );
    const usage = await new Deno.Command(nativePath("cloudtaser-supervisor"), {
      args: ["--", "/usr/bin/touch", witness],
      stderr: "piped",
      signal: AbortSignal.timeout(5000),
    }).output();
    assert.equal(usage.code, 125);
    assert.match(
      dec.decode(usage.stderr),
      /usage: cloudtaser-supervisor --region-fd N/,
    );
    assert.throws(() => Deno.statSync(witness), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a failed hand-over throws a SyscallError naming the call and the wrapper exits cleanly", async () => {
  const r = await runToEnd(["/bin/true"], { badRegion: true });
  assert.equal(r.status.code, 3, r.stderr);
  assert.match(r.stderr, /^handover: handOver failed: EINVAL$/m);
  assert.ok(!r.stderr.includes("cloudtaser-supervisor"), "no exec happened");
});

Deno.test("stdin reaches the app", async () => {
  const r = await runToEnd(["/bin/cat"], {}, "line one\nline two\n");
  assert.equal(r.status.code, 0, r.stderr);
  assert.equal(r.stdout, "line one\nline two\n");
});

Deno.test("a missing command exits 127, a non-executable file 126, each with a message", async () => {
  const gone = await runToEnd(["no-such-command-cloudtaser"]);
  assert.equal(gone.status.code, 127);
  const lines = jsonLines(gone.stderr);
  assert.equal(lines.length, 1, gone.stderr);
  assert.equal(lines[0].program, "cloudtaser-supervisor");
  assert.equal(lines[0].level, "error");
  assert.equal(
    lines[0].message,
    "exec no-such-command-cloudtaser failed: ENOENT",
  );

  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/not-executable`;
    Deno.writeTextFileSync(file, "#!/bin/sh\necho ran\n", { mode: 0o644 });
    const noexec = await runToEnd([file]);
    assert.equal(noexec.status.code, 126);
    assert.equal(noexec.stdout, "");
    assert.equal(
      jsonLines(noexec.stderr)[0]?.message,
      `exec ${file} failed: EACCES`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a broken canary stops the start: 125, a message naming the canary, no app", async () => {
  const dir = Deno.makeTempDirSync();
  const witness = `${dir}/app-ran`;
  try {
    const ok = await runToEnd(["/usr/bin/touch", witness], {
      secrets: { K: marker("c") },
    });
    assert.equal(ok.status.code, 0, ok.stderr);
    Deno.removeSync(witness); // the control: the same start runs the app
    const bad = await runToEnd(["/usr/bin/touch", witness], {
      secrets: { K: marker("c") },
      corruptCanary: true,
    });
    assert.equal(bad.status.code, 125, bad.stderr);
    const lines = jsonLines(bad.stderr);
    assert.equal(lines.length, 1, bad.stderr);
    assert.equal(lines[0].level, "error");
    assert.match(
      String(lines[0].message),
      /^the secret region's canary is broken .*the app is not started$/,
    );
    assert.throws(() => Deno.statSync(witness), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// An fd-delivery app that maps the region writable and flips its last byte:
// a write the read-only resident mapping cannot stop, found at the wipe.
const CORRUPT = `
import mmap, os, sys
fd = int(os.environ["CLOUDTASER_SECRET_FD"])
size = os.fstat(fd).st_size
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)
if sys.argv[1] == "flip":
    m[size - 1] ^= 0xFF
m.close()
`;

function realPython(): string {
  const out = new Deno.Command("python3", {
    args: ["-c", "import sys; print(sys.executable)"],
  }).outputSync();
  return dec.decode(out.stdout).trim();
}

Deno.test("a canary broken while the app runs is reported at the wipe; an untouched one is not", async () => {
  const py = realPython();
  for (const how of ["keep", "flip"]) {
    const r = await runToEnd([py, "-c", CORRUPT, how], {
      delivery: "fd",
      secrets: { K: marker("w") },
    });
    assert.equal(r.status.code, 0, `the app's status wins: ${r.stderr}`);
    const broken = jsonLines(r.stderr).filter((l) =>
      /canary is broken/.test(String(l.message))
    );
    assert.equal(broken.length, how === "flip" ? 1 : 0, r.stderr);
    if (how === "flip") assert.equal(broken[0].level, "error");
  }
});

Deno.test("on a terminal the app gets its own foreground process group and the text log format", async () => {
  // script(1) gives the wrapper a pseudo-terminal as stdin/stdout/stderr.
  const fixture =
    new URL("../support/fixtures/handover_run.ts", import.meta.url)
      .pathname;
  const deno = `${Deno.execPath()} run -A --no-lock --no-config ${fixture}`;
  const awk =
    `awk '{print "pgrp", $5, "tpgid", $8, "ppid", $4}' /proc/self/stat`;
  const run = async (cmd: string) => {
    const p = new Deno.Command("script", {
      args: ["-qec", cmd, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(15000),
    });
    const out = await p.output();
    return { code: out.code, text: dec.decode(out.stdout) };
  };
  const fg = await run(`${deno} --env PATH=/usr/bin:/bin -- ${awk}`);
  assert.equal(fg.code, 0, fg.text);
  const m = /pgrp (\d+) tpgid (\d+) ppid (\d+)/.exec(fg.text);
  assert.ok(m, fg.text);
  assert.equal(m[1], m[2], "the app's group is the terminal's foreground");
  assert.notEqual(m[1], m[3], "the app has a group of its own");

  const gone = await run(`${deno} --env PATH=/usr/bin:/bin -- no-such-cmd-ct`);
  assert.equal(gone.code, 127);
  assert.match(
    gone.text,
    /cloudtaser-supervisor\[\d+\] ERROR exec no-such-cmd-ct failed: ENOENT/,
  );
});
