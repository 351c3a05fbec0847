/**
 * The supervisor's side of a refresh (docs/refresh.md "The cycle"), with
 * refresh_fake playing the refresh process (the wrapper's real `refresh`
 * mode is tested end to end against OpenBao in tests/wrapper/): what a
 * refresh process gets, the report, the timeout, the program check, and the
 * app never losing its parent or a signal meanwhile.
 */
import assert from "node:assert/strict";
import { fdTargets, marker, TESTAPP, until } from "../support/supervisor.ts";
import { FAKE, Launch } from "../support/refresh.ts";

const SLEEP = [TESTAPP, "signals", "1"];

Deno.test("supervisor refresh protocol: a due refresh gets fds 0-8 and PATH only, and the state of the last report", async () => {
  const token = marker("tok");
  const l = new Launch(SLEEP, {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: token },
    fake: ["--log", "--due", "100"],
    args: ["--delivery", "env", "--due-ms", "50", "--state", "bjA"],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    const seen = await l.waitStderr(
      /^refresh_fake op=due n=(\d+) .*$/gm,
      8000,
      3,
    );
    const fake = [
      ...l.stderr.matchAll(
        /^refresh_fake op=due n=(\d+) fds=(\S+) env=(\S+)/gm,
      ),
    ];
    // --state bjA is not "n<k>": the first refresh counts from 1, then each
    // gets the state its predecessor reported.
    assert.deepEqual(
      fake.slice(0, 3).map((m) => m[1]),
      ["1", "2", "3"],
      seen[0],
    );
    for (const m of fake) {
      assert.equal(m[2], "0,1,2,3,4,5,6,7,8", "fds");
      assert.equal(m[3], "PATH", "environment");
    }
    // Default signal dispositions and an empty mask, not the supervisor's.
    assert.match(seen[0], / mask=0{16} ignored=0{16}$/);
    const reports = l.logs().filter((x) => x.refresh);
    assert.ok(reports.length >= 2);
    assert.deepEqual(reports[0].refresh, {
      op: "due",
      n: 1,
      status: "ok",
      token: "same",
      app: "same",
      due_ms: 100,
    });
    Deno.kill(l.pid, "SIGUSR1");
    assert.equal((await l.status()).code, 0, l.stderr);
    assert.doesNotMatch(l.stderr + l.stdout, new RegExp(token));
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: with --deno-dir a refresh gets PATH and that DENO_DIR, nothing else", async () => {
  const l = new Launch(SLEEP, {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--log", "--due", "100", "--print-env", "DENO_DIR"],
    args: [
      "--delivery",
      "env",
      "--due-ms",
      "50",
      "--deno-dir",
      "/cloudtaser/lib/deno-dir",
    ],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    await l.waitStderr(/^refresh_fake op=due n=1 .*$/gm, 8000, 1);
    const m = /^refresh_fake op=due n=1 fds=\S+ env=(\S+)/m.exec(l.stderr);
    assert.equal(m?.[1], "PATH,DENO_DIR", "environment");
    assert.match(
      l.stderr,
      /^refresh_fake DENO_DIR=\/cloudtaser\/lib\/deno-dir$/m,
    );
    Deno.kill(l.pid, "SIGUSR1");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: a refresh past --refresh-timeout-ms is killed and retried, while signals reach the app", async () => {
  const l = new Launch([TESTAPP, "signals", "2"], {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--hang", "--log"],
    args: [
      "--delivery",
      "env",
      "--due-ms",
      "50",
      "--refresh-timeout-ms",
      "400",
      "--revoke-on-exit",
      "0",
    ],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    await l.waitStderr(/^refresh_fake op=due n=1 /m);
    // The refresh hangs: the supervisor still forwards.
    Deno.kill(l.pid, "SIGUSR2");
    await l.waitStdout(/^got USR2$/m, 3000);
    await l.waitStderr(/outlived --refresh-timeout-ms \(400 ms\): SIGKILL/);
    // Failed: retried at the previous due time doubled (50 -> 100 ms); the
    // fake hangs again, with the same state (nothing was reported).
    await l.waitStderr(/^refresh_fake op=due n=1 /gm, 8000, 2);
    const failed = l.logs().find((x) => x.refresh) as {
      refresh: { status: string };
    };
    assert.equal(failed.refresh.status, "failed");
    Deno.kill(l.pid, "SIGHUP");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: a failed, crashed, flooding or chatty refresh costs a log line, never the app", async () => {
  const cases: [string[], RegExp][] = [
    [["--fail"], /refresh due failed: the fake was told to fail/],
    [["--exit", "3"], /refresh due failed: the refresh process exited 3/],
    [["--flood"], /refresh due failed: the report is longer than its limit/],
    [["--junk"], /refresh due: ok; token same, app same/],
  ];
  for (const [fake, line] of cases) {
    const l = new Launch(SLEEP, {
      app: { K: marker("v") },
      token: { VAULT_TOKEN: marker("tok") },
      fake: [...fake, "--due", "100"],
      args: ["--delivery", "env", "--due-ms", "20", "--revoke-on-exit", "0"],
    });
    try {
      await l.waitStdout(/^ready \d+$/m);
      await until(
        `${fake}: ${line}`,
        () => l.messages().some((m) => line.test(m)),
      );
      assert.equal(l.children().length >= 1, true);
      Deno.kill(l.pid, "SIGUSR1");
      assert.equal((await l.status()).code, 0, `${fake}: ${l.stderr}`);
    } finally {
      await l.close();
    }
  }
});

Deno.test("supervisor refresh protocol: a program whose mtime changed since start is not run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-refresh-" });
  const copy = `${dir}/refresh_fake`;
  await Deno.copyFile(FAKE, copy);
  await Deno.chmod(copy, 0o755);
  const l = new Launch(SLEEP, {
    program: copy,
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--log", "--due", "200"],
    args: ["--delivery", "env", "--due-ms", "20", "--revoke-on-exit", "0"],
  });
  try {
    await l.waitStderr(/^refresh_fake op=due n=1 /m);
    // Positive control above: the same program ran. Now touch it.
    await Deno.utime(copy, new Date(), new Date(Date.now() + 5000));
    await l.waitStderr(
      /changed since start \(size, mtime or ctime\): it is not run/,
    );
    await l.waitStderr(/refresh due could not start/);
    assert.equal([...l.stderr.matchAll(/^refresh_fake op=due/gm)].length, 1);
    Deno.kill(l.pid, "SIGUSR1");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("supervisor refresh protocol: a changed token region replaces the old one and reaches the next refresh", async () => {
  const token = marker("tok");
  const l = new Launch(SLEEP, {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: token },
    fake: ["--log", "--token-change", "--due", "50", "--changes", "2"],
    args: ["--delivery", "env", "--due-ms", "20", "--revoke-on-exit", "0"],
  });
  try {
    const third = await l.waitStderr(/^refresh_fake op=due n=3 .*$/m);
    assert.match(l.stderr, /^refresh_fake op=due n=1 .* token=- /m);
    assert.match(l.stderr, /^refresh_fake op=due n=2 .* token=t1 /m);
    assert.match(third[0], / token=t2 /);
    Deno.kill(l.pid, "SIGUSR1");
    assert.equal((await l.status()).code, 0, l.stderr);
    assert.doesNotMatch(l.stderr + l.stdout, new RegExp(token));
  } finally {
    await l.close();
  }
});

/** The supervisor's /secretmem mappings: perms and both neighbours' perms. */
function secretMappings(pid: number): string[] {
  const lines = Deno.readTextFileSync(`/proc/${pid}/maps`).trim().split("\n");
  const perms = lines.map((l) => l.split(/\s+/)[1]);
  return lines.flatMap((l, i) =>
    /\/secretmem/.test(l) ? [`${perms[i - 1]} ${perms[i]} ${perms[i + 1]}`] : []
  );
}

Deno.test("supervisor refresh protocol: the token region is held like the app region (read-only between guard pages, fd closed), and a new one replaces the old mapping", async () => {
  const l = new Launch(SLEEP, {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--token-change", "--due", "100", "--changes", "3"],
    args: ["--delivery", "env", "--due-ms", "300", "--revoke-on-exit", "0"],
  });
  try {
    await l.waitStdout(/^ready \d+$/m);
    // From outside: two secretmem mappings (app region, token region).
    assert.deepEqual(secretMappings(l.pid), [
      "---p r--s ---p",
      "---p r--s ---p",
    ]);
    const fds = [...fdTargets(l.pid).values()];
    assert.equal(fds.filter((t) => /secretmem/.test(t)).length, 0, `${fds}`);
    // Three token changes later: still two, the old ones unmapped.
    await until(
      "three token changes",
      () =>
        l.logs().filter((x) =>
          (x.refresh as { token?: string } | undefined)?.token === "changed"
        ).length >= 3,
    );
    await until(
      "the refresh's fds closed",
      () => [...fdTargets(l.pid).values()].every((t) => !/secretmem/.test(t)),
    );
    assert.deepEqual(secretMappings(l.pid), [
      "---p r--s ---p",
      "---p r--s ---p",
    ]);
    Deno.kill(l.pid, "SIGUSR1");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});

Deno.test("supervisor refresh protocol: a report pipe held open by something the refresh started ends at the deadline, and refreshes go on", async () => {
  const l = new Launch(SLEEP, {
    app: { K: marker("v") },
    token: { VAULT_TOKEN: marker("tok") },
    fake: ["--leak-pipe", "--log", "--due", "100"],
    args: [
      "--delivery",
      "env",
      "--due-ms",
      "50",
      "--refresh-timeout-ms",
      "500",
      "--revoke-on-exit",
      "0",
    ],
  });
  try {
    await l.waitStderr(/^refresh_fake op=due n=2 /m, 8000);
    assert.ok(
      l.messages().some((m) =>
        /report pipe is still open after it exited/.test(m)
      ),
      l.stderr,
    );
    const first = l.logs().find((x) => x.refresh) as {
      refresh: { status: string };
    };
    assert.equal(first.refresh.status, "ok");
    Deno.kill(l.pid, "SIGUSR1");
    assert.equal((await l.status()).code, 0, l.stderr);
  } finally {
    await l.close();
  }
});
