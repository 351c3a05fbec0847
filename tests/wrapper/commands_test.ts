/** check, score, install, version and --help, run as the real CLI. */
import assert from "node:assert/strict";
import { nativePath } from "../../ffi/mod.ts";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  secret,
  sharedServer,
  wrapper,
  wrapperArgs,
} from "../support/wrapper.ts";

const { server, stop } = sharedServer();
const PASSWORD = secret("check");

async function goodEnv(extra: Record<string, string> = {}) {
  const bao = await server();
  await put(bao, "secret/data/check/db", { password: PASSWORD });
  return bao.env({
    PATH: "/usr/bin:/bin",
    CLOUDTASER_SECRET_PATHS: "secret/data/check/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
    ...extra,
  });
}

Deno.test("check on a good configuration prints the score table and exits 0", async () => {
  const r = await wrapper(["check"], await goodEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /vault: logged in \(cert\), 1 path\(s\), 1 secret\(s\) readable: DB_PASSWORD/,
  );
  assert.match(r.stdout, /ok\s+memfd_secret\s+15\/15/);
  assert.match(r.stdout, /protection score: \d+\/135/);
});

Deno.test("check with vault: references alone, and mixed with CLOUDTASER_SECRET_PATHS", async () => {
  const bao = await server();
  await put(bao, "secret/data/check/db", { password: PASSWORD });
  await put(bao, "secret/data/check/api", { key: "not-secret-but-read" });
  const refsOnly = bao.env({
    PATH: "/usr/bin:/bin",
    DB_PASSWORD: "vault:secret/data/check/db#password",
  });
  const only = await wrapper(["check"], refsOnly);
  assert.equal(only.code, 0, only.stderr);
  assert.match(only.stdout, /1 path\(s\), 1 secret\(s\) readable: DB_PASSWORD/);
  assert.match(only.stdout, /ok\s+environ_scrubbed\s+5\/5/);
  const mixed = await wrapper(["check"], {
    ...refsOnly,
    CLOUDTASER_SECRET_PATHS: "secret/data/check/api",
  });
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.match(
    mixed.stdout,
    /2 path\(s\), 2 secret\(s\) readable: key, DB_PASSWORD/,
  );
});

Deno.test("check names each kind of bad configuration and exits non-zero", async () => {
  const bao = await server();
  const cases: Array<[Record<string, string>, number, RegExp]> = [
    [{ VAULT_ADDR: "not a url" }, 2, /VAULT_ADDR="not a url": expected a URL/],
    [
      { VAULT_MAX_RETRIES: "many" },
      2,
      /VAULT_MAX_RETRIES="many": expected a whole number/,
    ],
    [
      { BAO_AUTH: "x", VAULT_AUTH_METHOD: "ldap" },
      2,
      /VAULT_AUTH_METHOD="ldap": expected one of kubernetes, cert/,
    ],
    [
      { CLOUDTASER_SECRET_PATHS: "secret/data/check/nope" },
      1,
      /secret\/data\/check\/nope/,
    ],
    [{ CLOUDTASER_ENV_MAP: "username=DB_USER" }, 1, /username/],
    [{ VAULT_CACERT: bao.untrustedCaCert }, 1, /certificate|TLS|tls/i],
    [
      {
        VAULT_CLIENT_CERT: bao.untrustedCert,
        VAULT_CLIENT_KEY: bao.untrustedKey,
      },
      1,
      /cert|login|permission|403|400/i,
    ],
    [{ CLOUDTASER_ENV_MAP: "password=1BAD" }, 2, /1BAD/],
    [
      { CLOUDTASER_REQUIRE_MLOCK: "maybe" },
      2,
      /CLOUDTASER_REQUIRE_MLOCK="maybe": expected true or false/,
    ],
  ];
  for (const [change, code, message] of cases) {
    const r = await wrapper(["check"], await goodEnv(change));
    assert.equal(r.code, code, `${JSON.stringify(change)}: ${r.stderr}`);
    const messages = logLines(r).map((l) => l.message).join("\n");
    assert.match(messages, message, JSON.stringify(change));
  }
});

Deno.test("score --json is measured: memfd_secret counts only where the kernel gives it", async () => {
  const r = await wrapper(["score", "--json"], { PATH: "/usr/bin:/bin" });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  const byName = Object.fromEntries(
    s.checks.map((c: { name: string }) => [c.name, c]),
  );
  assert.equal(byName.memfd_secret.ok, true);
  assert.equal(byName.dumpable_disabled.ok, true);
  assert.equal(byName.guard_pages.ok, true);

  // The same command where memfd_secret fails with ENOSYS (seccomp).
  const out = await new Deno.Command(nativePath("seccomp_nosecret"), {
    args: [Deno.execPath(), ...wrapperArgs(["score", "--json"])],
    env: { PATH: "/usr/bin:/bin" },
    clearEnv: true,
  }).output();
  const weak = JSON.parse(new TextDecoder().decode(out.stdout));
  const weakBy = Object.fromEntries(
    weak.checks.map((c: { name: string }) => [c.name, c]),
  );
  assert.equal(weakBy.memfd_secret.ok, false);
  assert.equal(weakBy.mlock.ok, true);
  // The token would sit in the same weaker memory.
  assert.equal(weakBy.token_protected.ok, false);
  assert.equal(weak.total, s.total - 25);
});

Deno.test("score counts a token in the wrapper's environ against token_protected", async () => {
  const r = await wrapper(["score", "--json"], {
    PATH: "/usr/bin:/bin",
    VAULT_TOKEN: "s.not-a-real-token",
  });
  const s = JSON.parse(r.stdout);
  assert.equal(
    s.checks.find((c: { name: string }) => c.name === "token_protected").ok,
    false,
  );
  assert.ok(
    !r.stdout.includes("s.not-a-real-token") &&
      !r.stderr.includes("s.not-a-real-token"),
  );
});

Deno.test("install is atomic, 0755 and idempotent, and the installed wrapper runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-install-" });
  try {
    const first = await wrapper(["install", dir], { PATH: "/usr/bin:/bin" });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^installed: .*cloudtaser-wrapper/);
    const st = await Deno.stat(`${dir}/cloudtaser-wrapper`);
    assert.equal(st.mode! & 0o777, 0o755);
    const second = await wrapper(["install", dir], { PATH: "/usr/bin:/bin" });
    assert.match(second.stdout, /^already installed/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
      "cloudtaser-wrapper",
    ]);
    const v = await new Deno.Command(`${dir}/cloudtaser-wrapper`, {
      args: ["version"],
    }).output();
    assert.equal(
      new TextDecoder().decode(v.stdout).trim(),
      "cloudtaser-wrapper 0.1.0",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install, version and --help work with an invalid configuration that run refuses", async () => {
  const bad = {
    PATH: "/usr/bin:/bin",
    CLOUDTASER_LOG_LEVEL: "loud",
    VAULT_ADDR: "not a url",
  };
  const dir = await Deno.makeTempDir({ prefix: "ct-install-" });
  try {
    const inst = await wrapper(["install", dir], bad);
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stdout, /^installed: .*cloudtaser-wrapper/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const version = await wrapper(["version"], bad);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), "cloudtaser-wrapper 0.1.0");
  const help = await wrapper(["--help"], bad);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage:/m);
  const run = await wrapper(["--", "/bin/true"], bad);
  assert.equal(run.code, 2);
  const said = logLines(run).map((l) => l.message).join("\n");
  assert.match(said, /CLOUDTASER_LOG_LEVEL="loud": expected one of/);
  assert.match(said, /VAULT_ADDR="not a url": expected a URL/);
});

Deno.test("--help lists every configuration variable; bad options exit 2", async () => {
  const r = await wrapper(["--help"], {});
  assert.equal(r.code, 0);
  for (
    const v of [
      "VAULT_ADDR",
      "CLOUDTASER_SECRET_PATHS",
      "CLOUDTASER_DELIVERY",
      "CLOUDTASER_MIN_SCORE",
    ]
  ) {
    assert.ok(r.stdout.includes(v), v);
  }
  const bad = await wrapper(["--frobnicate"], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /frobnicate/);
  const none = await wrapper([], { PATH: "/usr/bin:/bin" });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no command: give one after --/);
});

Deno.test("no command output of this file held the test secret", async () => {
  assertNoSecretInOutput([PASSWORD]);
  await stop();
});
