/**
 * The wrapper as a hardened pod runs it: uid/gid 65534, no groups, no
 * capabilities (bounding set empty), credential files owned by that user.
 * `run` and `check`, env, interposer and fd delivery, `vault:` references,
 * and the supervisor's duties (exit status, signals, the region's wipe), end
 * to end against the real OpenBao.
 */
import assert from "node:assert/strict";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  secret,
  sharedServer,
  startWrapper,
  wrapper,
} from "../support/wrapper.ts";
import { sha256Hex } from "../support/markers.ts";
import {
  NOBODY,
  readableBy,
  unprivilegedTree,
} from "../support/unprivileged.ts";
import type { OpenBao } from "../support/openbao/server.ts";

const { server, stop } = sharedServer();
const DB_PASSWORD = secret("nr-db");
const API_KEY = secret("nr-api");
const secrets = [DB_PASSWORD, API_KEY];
const dec = new TextDecoder();
const enc = new TextEncoder();

let seeded: Promise<OpenBao> | undefined;
function seed(): Promise<OpenBao> {
  return seeded ??= (async () => {
    const bao = await server();
    await put(bao, "secret/data/nr/db", { password: DB_PASSWORD, user: "app" });
    await put(bao, "secret/data/nr/api", { key: API_KEY });
    return bao;
  })();
}

/** The client configuration with credential files the user owns (0600). */
async function nobodyEnv(extra: Record<string, string> = {}) {
  const bao = await seed();
  const files = await readableBy({
    VAULT_CACERT: bao.caCert,
    VAULT_CLIENT_CERT: bao.clientCert,
    VAULT_CLIENT_KEY: bao.clientKey,
  });
  return bao.env({ PATH: "/usr/bin:/bin", ...files, ...extra });
}

const ID_AND_CAPS =
  `id -u; id -g; grep -E '^Cap(Prm|Eff|Bnd):' /proc/self/status | tr -d '\\t'`;

Deno.test("as uid 65534 without capabilities: run (env delivery) delivers, and the app runs unprivileged", async () => {
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
  });
  const script =
    `${ID_AND_CAPS}; printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64`;
  const r = await wrapper(["--", "/bin/sh", "-c", script], env, undefined, {
    nobody: true,
  });
  assert.equal(r.code, 0, r.stderr);
  const [uid, gid, prm, eff, bnd, hash] = r.stdout.trim().split("\n");
  assert.deepEqual([uid, gid], [String(NOBODY), String(NOBODY)]);
  assert.deepEqual([prm, eff, bnd], [
    "CapPrm:0000000000000000",
    "CapEff:0000000000000000",
    "CapBnd:0000000000000000",
  ]);
  assert.equal(hash, await sha256Hex(DB_PASSWORD));
  const score = logLines(r).find((l) =>
    String(l.message).startsWith("protection score")
  );
  // environ_scrubbed was measured (not skipped) as this user.
  assert.ok(
    !(score?.missing as string[]).includes("environ_scrubbed"),
    JSON.stringify(score),
  );
});

Deno.test("as uid 65534: vault: references alone, and mixed with CLOUDTASER_SECRET_PATHS", async () => {
  const script =
    `printf '%s %s\\n' "$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64)" "$(printf %s "$API_KEY" | sha256sum | cut -c1-64)"`;
  const configs: Record<string, string>[] = [
    {
      DB_PASSWORD: "vault:secret/data/nr/db#password",
      API_KEY: "vault:secret/data/nr/api#key",
    },
    {
      DB_PASSWORD: "vault:secret/data/nr/db#password",
      CLOUDTASER_SECRET_PATHS: "secret/data/nr/api",
      CLOUDTASER_ENV_MAP: "key=API_KEY",
    },
  ];
  for (const extra of configs) {
    const r = await wrapper(
      ["--", "/bin/sh", "-c", script],
      await nobodyEnv(extra),
      undefined,
      { nobody: true },
    );
    assert.equal(r.code, 0, `${JSON.stringify(extra)}: ${r.stderr}`);
    assert.equal(
      r.stdout.trim(),
      `${await sha256Hex(DB_PASSWORD)} ${await sha256Hex(API_KEY)}`,
    );
  }
});

Deno.test("as uid 65534: environ_scrubbed still catches a secret value in the wrapper's own environment", async () => {
  // The negative control of the check above: readable by the check although
  // /proc/self/environ is not (dumpable 0 makes it root's).
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
    LEFT_IN_POD_SPEC: DB_PASSWORD,
  });
  const r = await wrapper(
    ["--", "/bin/sh", "-c", "echo app-ran"],
    env,
    undefined,
    {
      nobody: true,
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.ok(!r.stdout.includes("app-ran"));
  assert.match(
    r.stderr,
    /environ_scrubbed failed: the wrapper's own environment \(\/proc\/self\/environ\) holds the value of DB_PASSWORD/,
  );
});

Deno.test("as uid 65534: check logs in, reads every key and prints the score", async () => {
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/db",
    API_KEY: "vault:secret/data/nr/api#key",
  });
  const r = await wrapper(["check"], env, undefined, { nobody: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 path\(s\), 3 secret\(s\) readable/);
  assert.match(r.stdout, /ok\s+environ_scrubbed\s+5\/5/);
  assert.match(r.stdout, /ok\s+memfd_secret\s+15\/15/);
  assert.match(r.stdout, /ok\s+dumpable_disabled\s+5\/5/);
});

Deno.test("as uid 65534, RLIMIT_MEMLOCK decides memfd_secret: 64 KiB is enough, 0 falls back with a warning, or refuses in strict mode", async () => {
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
  });
  const script = 'printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64';
  const scoreOf = (r: Awaited<ReturnType<typeof wrapper>>) =>
    logLines(r).find((l) => String(l.message).startsWith("protection score"))!;
  // Docker's default limit: the 60 KiB region and the token's 4 KiB fit.
  const small = await wrapper(["--", "/bin/sh", "-c", script], env, undefined, {
    nobody: true,
    memlock: 64 * 1024,
  });
  assert.equal(small.code, 0, small.stderr);
  assert.equal(small.stdout.trim(), await sha256Hex(DB_PASSWORD));
  assert.ok(!(scoreOf(small).missing as string[]).includes("memfd_secret"));
  // None at all: memfd_secret's mapping is refused (EAGAIN); the start goes
  // on in the weaker memfd, says why, and the score shows what is missing.
  const none = await wrapper(["--", "/bin/sh", "-c", script], env, undefined, {
    nobody: true,
    memlock: 0,
  });
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout.trim(), await sha256Hex(DB_PASSWORD));
  assert.match(
    none.stderr,
    /memfd_secret's mapping of \d+ bytes failed: EAGAIN \(its pages count against RLIMIT_MEMLOCK/,
  );
  const missing = scoreOf(none).missing as string[];
  for (const m of ["memfd_secret", "mlock", "token_protected"]) {
    assert.ok(missing.includes(m), `${m}: ${missing}`);
  }
  const strict = await wrapper(
    ["--", "/bin/sh", "-c", "echo app-ran"],
    { ...env, CLOUDTASER_REQUIRE_MEMFD_SECRET: "true" },
    undefined,
    { nobody: true, memlock: 0 },
  );
  assert.equal(strict.code, 3, strict.stderr);
  assert.ok(!strict.stdout.includes("app-ran"));
  assert.match(
    strict.stderr,
    /CLOUDTASER_REQUIRE_MEMFD_SECRET=true but memfd_secret's mapping of \d+ bytes failed: EAGAIN/,
  );
});

/** Starts the wrapper as nobody with stdin/stdout piped; reads one line. */
Deno.test("as uid 65534: interposer delivery, the app reads its secret and its /proc environ holds none", async () => {
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/api",
    CLOUDTASER_ENV_MAP: "key=API_KEY",
    CLOUDTASER_DELIVERY: "interposer",
  });
  const app = await startWrapper(
    [
      "--",
      "/usr/bin/bash",
      "-c",
      'echo "$$ $(id -u) $(printf %s "$API_KEY" | sha256sum | cut -c1-64)"; read -r _',
    ],
    env,
    { nobody: true },
  );
  try {
    const [pid, uid, hash] = (await app.line()).split(" ");
    assert.equal(uid, String(NOBODY));
    assert.equal(hash, await sha256Hex(API_KEY));
    const environ = dec.decode(Deno.readFileSync(`/proc/${pid}/environ`));
    assert.ok(!environ.includes(API_KEY), "the secret is in the app's environ");
    assert.ok(!environ.split("\0").some((e) => e.startsWith("API_KEY=")));
    assert.match(Deno.readTextFileSync(`/proc/${pid}/maps`), /\/secretmem/);
  } finally {
    await app.stdin.write(enc.encode("\n")).catch(() => {});
    const r = await app.finish();
    assert.equal(r.status.code, 0, r.stderr);
  }
});

Deno.test("as uid 65534: fd delivery, the C SDK reads the region", async () => {
  const tree = await unprivilegedTree();
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/api",
    CLOUDTASER_ENV_MAP: "key=API_KEY",
    CLOUDTASER_DELIVERY: "fd",
  });
  const r = await wrapper(
    ["--", `${tree.build}/cloudtaser_sdk_example`, "API_KEY"],
    env,
    undefined,
    { nobody: true },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^count 1$/m);
  assert.match(
    r.stdout,
    new RegExp(`^get API_KEY len=${API_KEY.length} `, "m"),
  );
});

Deno.test("as uid 65534: the supervisor forwards SIGTERM, reaps, wipes the region and exits with the app's status", async () => {
  const env = await nobodyEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/nr/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
  });
  const app = await startWrapper(
    [
      "--",
      "/bin/sh",
      "-c",
      // An orphan for the supervisor to reap, then wait for SIGTERM.
      '(sleep 0.2 &); trap "echo got-term; exit 7" TERM; echo "ready $$"; while :; do sleep 0.05; done',
    ],
    env,
    { nobody: true },
  );
  const [word, appPid] = (await app.line()).split(" ");
  assert.equal(word, "ready");
  // The wrapper's pid is now the supervisor: unprivileged and not dumpable.
  const status = Deno.readTextFileSync(`/proc/${app.child.pid}/status`);
  assert.match(status, /^Name:\s+ct-supervisor$/m);
  assert.match(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, "m"));
  assert.ok(Number(appPid) > 0);
  app.child.kill("SIGTERM");
  const r = await app.finish();
  assert.match(r.stdout, /got-term/);
  assert.equal(r.status.code, 7, r.stderr);
  assert.ok(!/canary is broken/.test(r.stderr), r.stderr);
});

Deno.test("non-root runs: no secret in any output", async () => {
  assertNoSecretInOutput(secrets);
  await stop();
});
