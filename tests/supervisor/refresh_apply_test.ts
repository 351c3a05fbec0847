/**
 * Delivering a change (docs/refresh.md "CLOUDTASER_ON_CHANGE") and the
 * revocation at exit, on the supervisor's side, with refresh_fake playing
 * the refresh process: restart (a new app with the new records, no old
 * process left, held signals, exit codes), signal:NAME (the records written
 * in place, the same pid reads the new value), none, debounce.
 * The app prints only lengths and hashes of the values.
 */
import assert from "node:assert/strict";
import { marker, statusField, TESTAPP, until } from "../support/supervisor.ts";
import { fnv64, Launch } from "../support/refresh.ts";
import { nativePath } from "../../ffi/mod.ts";

const watch = (how: "sdk" | "getenv") => [TESTAPP, "watch", "K", how];

/** Asks the app (pid) for K's value; waits for the n-th answer's hash. */
async function valueAfterHup(l: Launch, app: number, n: number) {
  Deno.kill(app, "SIGHUP");
  const m = await l.waitStdout(/^value K len=(\d+) fnv=(\w+)$/gm, 5000, n);
  return m[2];
}

const readyPids = (l: Launch) =>
  [...l.stdout.matchAll(/^ready (\d+)$/gm)].map((m) => Number(m[1]));

Deno.test("supervisor refresh protocol: restart stops the app's group, reaps it and starts the app with the new records (env)", async () => {
  const v = marker("v");
  const l = new Launch(watch("getenv"), {
    app: { K: v },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--app-change", "--changes", "1", "--due", "60000", "--log"],
    args: ["--delivery", "env", "--due-ms", "300", "--kill-timeout-ms", "3000"],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    const first = readyPids(l)[0];
    assert.equal(await valueAfterHup(l, first, 1), fnv64(v));
    await l.waitStdout(/^ready \d+$/gm, 8000, 2);
    const second = readyPids(l)[1];
    assert.notEqual(second, first);
    assert.equal(statusField(first, "State"), undefined, "old app reaped");
    assert.deepEqual(l.children(), [second], "no old process, no zombie");
    assert.equal(await valueAfterHup(l, second, 2), fnv64(`${v}-r1`));
    assert.ok(
      l.messages().some((m) =>
        /^restart: SIGTERM to the app's process group/.test(m)
      ),
    );
    // The supervisor's exit code is the last app's; the token is revoked.
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 0, l.stderr);
    const exit = l.logs().find((x) => "token_revoked" in x);
    assert.equal(exit?.token_revoked, true, l.stderr);
    assert.match(l.stderr, /^refresh_fake op=revoke /m);
    assert.doesNotMatch(l.stderr + l.stdout, new RegExp(v));
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: signals that arrive during a restart are held and forwarded to the new app", async () => {
  // testapp `signals 2` records SIGTERM and lives on: the restart waits for
  // --kill-timeout-ms, then SIGKILLs the group. SIGUSR1 sent meanwhile is
  // held (the old app never records it) and forwarded once the new app has
  // exec'd: the new app records it, or, when it comes before the app's
  // handler is in place (as a signal forwarded at the first start can),
  // dies of it and the supervisor exits 128 + SIGUSR1, the last app's code.
  const l = new Launch([TESTAPP, "signals", "2"], {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--app-change", "--changes", "1", "--due", "60000"],
    args: ["--delivery", "env", "--due-ms", "200", "--kill-timeout-ms", "1500"],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    await l.waitStdout(/^got TERM$/m, 5000); // the stop signal
    Deno.kill(l.pid, "SIGUSR1");
    await l.waitStderr(/the app runs again/, 5000);
    const ended = l.status().then((s) => s.code);
    const outcome = await Promise.race([
      ended,
      l.waitStdout(/^ready \d+\n(?:.*\n)*got USR1$/m, 5000).then(() => "got"),
    ]);
    if (outcome === "got") {
      Deno.kill(l.pid, "SIGHUP"); // its second signal: exits 0
      assert.equal(await ended, 0, l.stderr);
      const [, after] = l.stdout.split(/^got TERM$/m);
      assert.match(after, /^ready \d+$(?:.*\n)*^got USR1$/m, "the new app's");
    } else {
      assert.equal(outcome, 128 + 10, l.stderr);
    }
    assert.equal(l.stdout.split(/^got TERM$/m)[0].includes("got USR1"), false);
    const order = l.messages().filter((m) => /^restart: /.test(m));
    assert.equal(order.length, 3, l.stderr);
    assert.match(order[1], /outlived --kill-timeout-ms: SIGKILL/);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: SIGTERM during a restart ends it with 143 and no new app", async () => {
  const l = new Launch([TESTAPP, "signals", "5"], {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--app-change", "--due", "60000"],
    args: [
      "--delivery",
      "env",
      "--due-ms",
      "200",
      "--stop-signal",
      "SIGUSR2",
      "--kill-timeout-ms",
      "3000",
    ],
  });
  try {
    await l.waitStdout(/^got USR2$/m, 5000); // the stop signal
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 143, l.stderr);
    assert.equal(readyPids(l).length, 1, "the app was not started again");
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: signal:SIGHUP writes the change in place; the same app reads the new value (fd delivery, C SDK)", async () => {
  const v = marker("v");
  const l = new Launch(watch("sdk"), {
    app: { K: v, OTHER: marker("o") },
    token: { VAULT_TOKEN: marker("tok") },
    launcher: ["--fd-env"],
    fake: ["--app-change", "--changes", "2", "--due", "100"],
    args: [
      "--delivery",
      "fd",
      "--due-ms",
      "300",
      "--on-change",
      "signal:SIGHUP",
    ],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    const app = readyPids(l)[0];
    // The supervisor's own SIGHUP after each write: two changes, two values.
    await l.waitStdout(/^value K len=\d+ fnv=\w+$/gm, 8000, 2);
    const values = [...l.stdout.matchAll(/^value K len=\d+ fnv=(\w+)$/gm)]
      .map((m) => m[1]);
    assert.deepEqual(values, [fnv64(`${v}-r1`), fnv64(`${v}-r2`)]);
    assert.deepEqual(readyPids(l), [app], "the app's pid did not change");
    assert.ok(
      l.messages().some((m) => /written in place \(generation 4\)/.test(m)),
    );
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: signal:SIGUSR1 in place reaches the same app through the interposer's getenv", async () => {
  const v = marker("v");
  const l = new Launch(watch("getenv"), {
    app: { K: v },
    token: { VAULT_TOKEN: marker("tok") },
    launcher: ["--fd-env"],
    env: { LD_PRELOAD: nativePath("libcloudtaser_interposer.so") },
    fake: ["--app-change", "--changes", "1", "--due", "60000"],
    args: [
      "--delivery",
      "interposer",
      "--due-ms",
      "300",
      "--on-change",
      "signal:SIGUSR1",
    ],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    const app = readyPids(l)[0];
    // Before the change: the old value (asked with SIGHUP).
    assert.equal(await valueAfterHup(l, app, 1), fnv64(v));
    // The supervisor's SIGUSR1 after the write: the app reads again.
    const m = await l.waitStdout(/^value K len=\d+ fnv=(\w+)$/gm, 8000, 2);
    assert.equal(m[1], fnv64(`${v}-r1`));
    assert.deepEqual(readyPids(l), [app]);
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: signal:NAME falls back to restart when the change does not fit the region", async () => {
  const v = marker("v");
  const l = new Launch(watch("sdk"), {
    app: { K: v },
    token: { VAULT_TOKEN: marker("tok") },
    launcher: ["--fd-env"],
    fake: [
      "--app-change",
      "--changes",
      "1",
      "--grow",
      "6000",
      "--due",
      "60000",
    ],
    args: [
      "--delivery",
      "fd",
      "--due-ms",
      "200",
      "--on-change",
      "signal:SIGHUP",
    ],
  });
  try {
    await l.waitStdout(/^ready \d+$/gm, 8000, 2);
    const [first, second] = readyPids(l);
    assert.notEqual(first, second);
    assert.ok(
      l.messages().some((m) => /does not fit the app's region/.test(m)),
    );
    assert.equal(
      await valueAfterHup(l, second, 1),
      fnv64(`${v}-r1${"x".repeat(6000)}`),
    );
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: --on-change none logs the change and keeps the app and its values", async () => {
  const v = marker("v");
  const l = new Launch(watch("sdk"), {
    app: { K: v },
    token: { VAULT_TOKEN: marker("tok") },
    launcher: ["--fd-env"],
    fake: ["--app-change", "--changes", "1", "--due", "60000"],
    args: ["--delivery", "fd", "--due-ms", "100", "--on-change", "none"],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    await until(
      "the change is logged",
      () =>
        l.messages().some((m) => /not delivered \(--on-change none\)/.test(m)),
    );
    assert.equal(await valueAfterHup(l, readyPids(l)[0], 1), fnv64(v));
    assert.equal(readyPids(l).length, 1);
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: changes within the splay are merged into one restart with the newest records", async () => {
  const v = marker("v");
  const l = new Launch(watch("getenv"), {
    app: { K: v },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--app-change", "--changes", "3", "--due", "100", "--apply", "1500"],
    args: ["--delivery", "env", "--due-ms", "100"],
  });
  try {
    await l.waitStdout(/^ready \d+$/gm, 8000, 2);
    const second = readyPids(l)[1];
    assert.equal(await valueAfterHup(l, second, 1), fnv64(`${v}-r3`));
    // Wait past another splay: no second restart.
    await new Promise((r) => setTimeout(r, 1800));
    assert.equal(readyPids(l).length, 2, l.stderr);
    const merged = l.messages().filter((m) => /newer change replaces/.test(m));
    assert.equal(merged.length, 2);
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: revocation at exit keeps the app's status and reports it done, failed, timed out or off", async () => {
  const cases: [string[], string[], boolean, boolean][] = [
    [["--revoke", "ok"], [], true, true],
    [["--revoke", "fail"], [], true, false],
    [["--revoke", "hang"], ["--revoke-timeout-ms", "300"], true, false],
    [["--revoke", "ok"], ["--revoke-on-exit", "0"], false, false],
  ];
  for (const [fake, args, runs, revoked] of cases) {
    const started = Date.now();
    const l = new Launch(["/bin/sh", "-c", "exit 42"], {
      app: { K: marker("v") },
      token: { VAULT_TOKEN: marker("tok") },
      fake: ["--log", ...fake],
      args: ["--delivery", "env", ...args],
    });
    try {
      assert.equal((await l.status()).code, 42, l.stderr);
      const exit = l.logs().find((x) => "token_revoked" in x);
      assert.equal(
        exit?.token_revoked,
        revoked,
        `${fake} ${args}: ${l.stderr}`,
      );
      assert.equal(exit?.exit_status, 42);
      assert.equal(/^refresh_fake op=revoke /m.test(l.stderr), runs);
      assert.ok(Date.now() - started < 5000, "bounded");
    } finally {
      await l.close();
    }
  }
});

Deno.test("supervisor refresh protocol: when the app exits during a refresh, the refresh is killed at once and the revocation still runs", async () => {
  const l = new Launch([TESTAPP, "signals", "1"], {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--hang", "--log"],
    args: [
      "--delivery",
      "env",
      "--due-ms",
      "50",
      "--refresh-timeout-ms",
      "60000",
    ],
  });
  try {
    await l.waitStderr(/^refresh_fake op=due n=1 /m);
    const started = Date.now();
    Deno.kill(l.pid, "SIGUSR1"); // the app's one signal: it exits 0
    assert.equal((await l.status()).code, 0, l.stderr);
    assert.ok(Date.now() - started < 5000, "not held by the hanging refresh");
    assert.match(l.stderr, /^refresh_fake op=revoke /m);
    assert.equal(
      l.logs().find((x) => "token_revoked" in x)?.token_revoked,
      true,
    );
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: an app that cannot be exec'd again at a restart ends the supervisor with 127, after the revocation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-restart-" });
  const app = `${dir}/app`;
  await Deno.copyFile(TESTAPP, app);
  await Deno.chmod(app, 0o755);
  const l = new Launch([app, "signals", "1"], {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--app-change", "--log", "--due", "60000"],
    args: ["--delivery", "env", "--due-ms", "400"],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    await Deno.remove(app);
    assert.equal((await l.status()).code, 127, l.stderr);
    assert.ok(l.messages().some((m) => /^exec .*app failed: ENOENT/.test(m)));
    assert.match(l.stderr, /^refresh_fake op=revoke /m);
  } finally {
    await l.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("supervisor refresh protocol: restart stops an app that moved itself out of its process group", async () => {
  const py = "import os, time; os.setpgid(0, os.getpgid(os.getppid())); " +
    "print('ready', os.getpid(), flush=True); time.sleep(30)";
  const l = new Launch(["python3", "-c", py], {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--app-change", "--changes", "1", "--due", "60000"],
    args: [
      "--delivery",
      "env",
      "--due-ms",
      "1500",
      "--kill-timeout-ms",
      "1000",
      "--revoke-on-exit",
      "0",
    ],
  });
  try {
    await l.waitStdout(/^ready \d+$/gm, 10000, 2);
    const [first, second] = readyPids(l);
    assert.notEqual(first, second);
    assert.equal(statusField(first, "State"), undefined, "old app gone");
    Deno.kill(l.pid, "SIGTERM");
    assert.equal((await l.status()).code, 143, l.stderr);
  } finally {
    await l.close();
  }
});
