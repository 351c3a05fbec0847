/**
 * The supervisor as a parent: exit codes, death by signal, reaping orphans,
 * PID 1 in a new pid namespace, and its resident footprint.
 */
import assert from "node:assert/strict";
import {
  childrenOf,
  Run,
  runToEnd,
  statusField,
  TESTAPP,
  until,
} from "../support/supervisor.ts";

Deno.test("the app's exit code is the supervisor's: 0, 1, 42, 255", async () => {
  for (const code of [0, 1, 42, 255]) {
    const r = await runToEnd(["/bin/sh", "-c", `exit ${code}`]);
    assert.equal(r.status.code, code, r.stderr);
    assert.equal(r.status.signal, null);
  }
});

Deno.test("an app killed by signal N gives 128+N (SIGKILL 137, SIGTERM 143)", async () => {
  for (const [sig, code] of [["KILL", 137], ["TERM", 143]] as const) {
    const r = await runToEnd(["/bin/sh", "-c", `kill -${sig} $$`]);
    assert.equal(r.status.code, code, r.stderr);
    assert.equal(r.status.signal, null, "the supervisor itself exits");
  }
});

Deno.test("an orphaned grandchild is adopted and reaped, no zombie left", async () => {
  // The app's subshell starts a short sleep and exits at once: the sleep is
  // orphaned while the app (exec sleep 20) lives on.
  const run = new Run([
    "/bin/sh",
    "-c",
    "(sleep 0.4 & echo orphan $!); exec sleep 20",
  ]);
  try {
    const m = await run.waitStdout(/^orphan (\d+)$/m);
    const orphan = Number(m[1]);
    // Adopted by the supervisor (subreaper), not by the system's init.
    assert.equal(
      await until("orphan reparented", () => {
        const pp = statusField(orphan, "PPid");
        return pp === String(run.pid) ? pp : undefined;
      }, 2000),
      String(run.pid),
    );
    // Once it exits it is reaped: /proc/<orphan> goes away, never stays Z.
    await until(
      `orphan ${orphan} reaped (state ${statusField(orphan, "State")})`,
      () => statusField(orphan, "State") === undefined,
      3000,
    );
    assert.equal(childrenOf(run.pid).length, 1, "only the app is left");
    Deno.kill(run.pid, "SIGTERM");
    assert.equal((await run.status()).code, 143);
  } finally {
    await run.close();
  }
});

Deno.test("as PID 1 of a new pid namespace it forwards signals and passes the exit code", async () => {
  const prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--"];
  const run = new Run([TESTAPP, "signals", "1"], { prefix });
  try {
    const sup = await until("unshare's child", () => childrenOf(run.pid)[0]);
    await run.app(sup);
    // NSpid: the host pid, then 1 inside the new namespace.
    assert.match(statusField(sup, "NSpid") ?? "", /^\d+\s+1$/);
    await run.waitStdout(/^ready \d+$/m);
    Deno.kill(sup, "SIGTERM");
    await run.waitStdout(/^got TERM$/m, 3000);
    assert.equal((await run.status()).code, 0, run.stderr);
  } finally {
    await run.close();
  }
  const r = await runToEnd(["/bin/sh", "-c", "exit 42"], { prefix });
  assert.equal(r.status.code, 42, r.stderr);
});

Deno.test("the resident supervisor: RSS <= 2 MB, one thread", async () => {
  const run = new Run([TESTAPP, "sleep", "20000"], {
    secrets: { DB_PASSWORD: "x".repeat(64) },
  });
  try {
    await run.app();
    const rss = Number(/(\d+) kB/.exec(statusField(run.pid, "VmRSS")!)![1]);
    const threads = Number(statusField(run.pid, "Threads"));
    console.log(`supervisor VmRSS ${rss} kB, ${threads} thread(s)`);
    assert.ok(rss <= 2048, `VmRSS ${rss} kB`);
    assert.equal(threads, 1);
    Deno.kill(run.pid, "SIGTERM");
    assert.equal((await run.status()).code, 143);
  } finally {
    await run.close();
  }
});
