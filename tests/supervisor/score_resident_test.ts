/**
 * The score the wrapper logs before the hand-over describes what stays
 * resident: through the real wrapper (OpenBao, mTLS), each check about the
 * region and the app's core limit that the score counts, the supervisor
 * measured true of its own mapping and of /proc/<app>/limits after the
 * hand-over, and CLOUDTASER_APP_CORE_DUMPS moves both the same way.
 */
import assert from "node:assert/strict";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  secret,
  sharedServer,
  wrapper,
} from "../support/wrapper.ts";

const { server, stop } = sharedServer();
const TOKEN = secret("resident");
const RESIDENT = [
  "memfd_secret",
  "mlock",
  "core_dump_exclusion",
  "guard_pages",
  "buffer_canary",
  "app_core_limit",
];

async function start(extra: Record<string, string>) {
  const bao = await server();
  await put(bao, "secret/data/resident/app", { token: TOKEN });
  const r = await wrapper(
    ["--", "/bin/sh", "-c", "grep 'Max core' /proc/self/limits"],
    bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/resident/app",
      CLOUDTASER_ENV_MAP: "token=APP_TOKEN",
      ...extra,
    }),
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = logLines(r);
  const score = lines.find((l) =>
    String(l.message).startsWith("protection score")
  );
  const resident = lines.find((l) => String(l.message).startsWith("resident:"));
  assert.ok(score && resident, r.stderr);
  return {
    missing: score.missing as string[],
    checks: resident.checks as Record<string, boolean>,
    app: resident.app as Record<string, unknown>,
    stdout: r.stdout,
  };
}

for (const delivery of ["env", "interposer"]) {
  Deno.test(`${delivery} delivery: every resident check the score counts, the supervisor measured after the hand-over`, async () => {
    const r = await start({ CLOUDTASER_DELIVERY: delivery });
    for (const name of RESIDENT) {
      const counted = !r.missing.includes(name);
      assert.ok(
        !counted || r.checks[name],
        `the score counts ${name}, the supervisor measured ${r.checks[name]}`,
      );
    }
    // On this machine (memfd_secret, root) all of them hold.
    assert.deepEqual(RESIDENT.filter((n) => r.missing.includes(n)), []);
    assert.equal(r.checks.read_only, true);
    assert.deepEqual([r.app.core_soft, r.app.core_hard], ["1", "1"]);
    assert.match(r.stdout, /^Max core file size\s+1\s+1\s+bytes/m);
  });
}

Deno.test("CLOUDTASER_APP_CORE_DUMPS=true: the app keeps the inherited core limit, and the score and the supervisor both say so", async () => {
  const r = await start({ CLOUDTASER_APP_CORE_DUMPS: "true" });
  assert.ok(r.missing.includes("app_core_limit"), r.missing.join());
  assert.equal(r.checks.app_core_limit, false);
  assert.notDeepEqual([r.app.core_soft, r.app.core_hard], ["1", "1"]);
  assert.doesNotMatch(r.stdout, /^Max core file size\s+1\s+1\s/m);
});

Deno.test("resident score: no secret in any output", async () => {
  await stop();
  assertNoSecretInOutput([TOKEN]);
});
