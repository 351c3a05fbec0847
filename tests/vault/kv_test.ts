/**
 * Reading secrets from a real OpenBao: KV v1 and v2, mapping, vault:
 * references, versions (pinned, soft-deleted, destroyed), large and odd
 * values, the fail-closed errors, and a cross-check with node-vault.
 */
import assert from "node:assert/strict";
import vault from "node-vault";
import { parseConfig } from "../../src/config/parse.ts";
import { objectMembers } from "../../src/vault/json_bytes/mod.ts";
import { planSecrets, VaultClient, VaultError } from "../../src/vault/mod.ts";
import {
  assertNoSecretIn,
  fetchError,
  fetchInto,
  logLines,
  put,
  secret,
  sharedServer,
} from "../support/vault.ts";

const { server, stop } = sharedServer();
const S = {
  dbUser: secret("dbuser"),
  dbPass: secret("dbpass"),
  kvToken: secret("kvtoken"),
  v1: secret("ver1"),
  v2: secret("ver2"),
  v3: secret("ver3"),
  del: secret("del"),
  big: secret("big"),
  uni: secret("uni") + '-välue-ключ-🔐-"quote"-\\-\n-\u2028',
  nul: secret("nul"),
  many: secret("many"),
};
const errors: string[] = [];
let seeded: Promise<void> | undefined;

async function ready() {
  const bao = await server();
  seeded ??= (async () => {
    await put(bao, "secret/data/app/db", {
      user: S.dbUser,
      password: S.dbPass,
      port: 5432,
      tls: true,
      extra: null,
      opts: { a: [1, "x"] },
    });
    await put(bao, "kv/app", { token: S.kvToken, "not-an-env-name": "x" });
    for (const v of [S.v1, S.v2, S.v3]) {
      await put(bao, "secret/data/app/ver", { pw: v });
    }
    await put(bao, "secret/data/app/del", { pw: S.del }); // version 1
    await put(bao, "secret/data/app/del", { pw: S.del + "2" }); // version 2
    await put(bao, "secret/data/app/del", { pw: S.del + "3" }); // version 3
    await put(bao, "secret/data/app/big", {
      blob: S.big + "x".repeat(1024 * 1024),
    });
    const many: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) {
      many[`K${String(i).padStart(4, "0")}`] = `${S.many}-${i}`;
    }
    await put(bao, "secret/data/app/many", many);
    await put(bao, "secret/data/app/uni", {
      "pässwort": S.uni,
      "ключ": "значение",
      "🔑": "🗝️",
    });
    await put(bao, "secret/data/app/nul", { pw: `${S.nul}\u0000tail` });
    await bao.api("POST", "sys/mounts/other", { type: "kv" });
    await put(bao, "other/app", { pw: "x" });
  })();
  await seeded;
  return bao;
}

Deno.test("KV v2 and v1: map, import-all, vault: references; non-strings as JSON text", async () => {
  const bao = await ready();
  const { report, values } = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/db, kv/app",
    CLOUDTASER_ENV_MAP:
      "user=DB_USER,password=DB_PASSWORD,port=DB_PORT,tls=DB_TLS,extra=X,opts=O;token=KV_TOKEN",
    API_TOKEN: "vault:kv/app#token",
    DB_AGAIN: "vault:secret/data/app/db#password",
  }));
  assert.deepEqual(values, {
    DB_USER: S.dbUser,
    DB_PASSWORD: S.dbPass,
    DB_PORT: "5432",
    DB_TLS: "true",
    X: "null",
    O: '{"a":[1,"x"]}',
    DB_AGAIN: S.dbPass,
    KV_TOKEN: S.kvToken,
    API_TOKEN: S.kvToken,
  });
  assert.deepEqual(report.paths, ["secret/data/app/db", "kv/app"]);
  // Each distinct path once: login + 2 preflights (secret/, kv/) + 2 reads
  // + revoke-self.
  assert.equal(report.requests, 6);
  const all = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/db",
  }));
  // The server sends keys sorted (Go's JSON encoder); the region keeps them
  // in the body's order.
  assert.deepEqual(Object.keys(all.values), [
    "extra",
    "opts",
    "password",
    "port",
    "tls",
    "user",
  ]);
});

Deno.test("KV v2 paths without data/ get it inserted, as `vault kv get` does", async () => {
  const bao = await ready();
  const { values } = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/app/db",
    CLOUDTASER_ENV_MAP: "password=P",
  }));
  assert.deepEqual(values, { P: S.dbPass });
});

Deno.test("version pinning: ?version=N and vault:PATH#KEY#N, latest otherwise", async () => {
  const bao = await ready();
  const { values, report } = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS:
      "secret/data/app/ver?version=1,secret/data/app/ver",
    CLOUDTASER_ENV_MAP: "pw=V1;pw=LATEST",
    V2: "vault:secret/data/app/ver#pw#2",
  }));
  assert.deepEqual(values, { V1: S.v1, LATEST: S.v3, V2: S.v2 });
  assert.equal(report.paths.length, 3);
});

Deno.test("a soft-deleted and a destroyed version fail closed; others still read", async () => {
  const bao = await ready();
  assert.equal((await bao.api("DELETE", "secret/data/app/del")).status, 204);
  assert.ok(
    (await bao.api("PUT", "secret/destroy/app/del", { versions: [1] }))
      .status < 300,
  );
  const latest = await fetchError(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/del",
    CLOUDTASER_ENV_MAP: "pw=PW",
  }));
  assert.ok(
    latest instanceof VaultError && latest.kind === "deleted",
    String(latest),
  );
  assert.match(
    latest.message,
    /^reading secret\/data\/app\/del: version 3 was deleted at \d{4}-.*; restore it/,
  );
  const destroyed = await fetchError(
    bao.env({ PW: "vault:secret/data/app/del#pw#1" }),
  );
  assert.ok(destroyed instanceof VaultError && destroyed.kind === "deleted");
  assert.match(
    destroyed.message,
    /^reading secret\/data\/app\/del version 1: version 1 was destroyed; pin another version/,
  );
  const v2 = await fetchInto(bao.env({ PW: "vault:secret/data/app/del#pw#2" }));
  assert.deepEqual(v2.values, { PW: S.del + "2" });
  errors.push(latest.message, destroyed.message);
});

Deno.test("missing path, missing key, 403, version on KV v1: errors name path and key", async () => {
  const bao = await ready();
  const cases: [Record<string, string>, string, RegExp][] = [
    [
      { CLOUDTASER_SECRET_PATHS: "secret/data/app/nope" },
      "not_found",
      /^reading secret\/data\/app\/nope: no secret at secret\/data\/app\/nope \(404\); check the path in CLOUDTASER_SECRET_PATHS/,
    ],
    [
      { CLOUDTASER_SECRET_PATHS: "kv/nope" },
      "not_found",
      /no secret at kv\/nope \(404\)/,
    ],
    [
      {
        CLOUDTASER_SECRET_PATHS: "secret/data/app/db",
        CLOUDTASER_ENV_MAP: "passwd=DB_PASSWORD",
      },
      "missing_key",
      /^secret\/data\/app\/db has no key "passwd" \(wanted by CLOUDTASER_ENV_MAP \(secret\/data\/app\/db#passwd\)\); it holds 6 key\(s\): extra, opts, password, port, tls, user$/,
    ],
    [
      { X: "vault:kv/app#nokey" },
      "missing_key",
      /^kv\/app has no key "nokey" \(wanted by env X=vault:kv\/app#nokey\)/,
    ],
    [
      { CLOUDTASER_SECRET_PATHS: "other/app" },
      "forbidden",
      /other\/app: permission denied \(403\).*policies must allow read on other\/app/,
    ],
    [
      { CLOUDTASER_SECRET_PATHS: "kv/app?version=2" },
      "config",
      /^kv\/app: version 2 requested, but kv\/ is a KV v1 mount/,
    ],
    [
      { CLOUDTASER_SECRET_PATHS: "kv/app" },
      "config",
      /^kv\/app key "not-an-env-name" is not a valid environment variable name; map it with CLOUDTASER_ENV_MAP/,
    ],
  ];
  for (const [extra, kind, re] of cases) {
    const e = await fetchError(bao.env(extra));
    assert.ok(e instanceof VaultError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    errors.push(e.message);
  }
});

Deno.test("env names: invalid or duplicate names are refused, naming both sources", async () => {
  const bao = await ready();
  const plan = (extra: Record<string, string>) => {
    const env = bao.env(extra);
    return () => planSecrets(parseConfig(env));
  };
  assert.throws(
    plan({
      CLOUDTASER_SECRET_PATHS: "secret/data/app/db",
      CLOUDTASER_ENV_MAP: "user=1BAD",
    }),
    /CLOUDTASER_ENV_MAP \(secret\/data\/app\/db#user\): "1BAD" is not a valid environment variable name/,
  );
  assert.throws(
    plan({
      CLOUDTASER_SECRET_PATHS: "secret/data/app/db",
      CLOUDTASER_ENV_MAP: "user=DB_USER",
      DB_USER: "vault:kv/app#token",
    }),
    {
      name: "VaultError",
      message:
        "DB_USER is set twice: by CLOUDTASER_ENV_MAP (secret/data/app/db#user) and by env DB_USER=vault:kv/app#token",
    },
  );
  // Import-all names are known only after the read.
  const e = await fetchError(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/db,kv/app",
    CLOUDTASER_ENV_MAP: ";token=password",
  }));
  assert.ok(e instanceof VaultError && e.kind === "duplicate", String(e));
  assert.equal(
    e.message,
    "password is set twice: by CLOUDTASER_SECRET_PATHS (secret/data/app/db, every key) and by CLOUDTASER_ENV_MAP (kv/app#token)",
  );
  errors.push(e.message);
});

Deno.test("a 1 MiB value and 1,000 keys", async () => {
  const bao = await ready();
  const big = await fetchInto(
    bao.env({ BLOB: "vault:secret/data/app/big#blob" }),
  );
  assert.equal(big.bytes.BLOB.length, S.big.length + 1024 * 1024);
  assert.equal(big.values.BLOB, S.big + "x".repeat(1024 * 1024));
  const many = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/many",
  }));
  assert.equal(many.report.keys.length, 1000);
  assert.equal(many.values.K0000, `${S.many}-0`);
  assert.equal(many.values.K0999, `${S.many}-999`);
});

Deno.test("Unicode keys and values (escapes, surrogate pairs, U+2028) arrive as UTF-8", async () => {
  const bao = await ready();
  const { values, bytes } = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/uni",
    CLOUDTASER_ENV_MAP: "pässwort=PASS,ключ=KEY_RU",
    EMOJI: "vault:secret/data/app/uni#🔑",
  }));
  assert.deepEqual(values, { PASS: S.uni, KEY_RU: "значение", EMOJI: "🗝️" });
  assert.deepEqual(bytes.PASS, new TextEncoder().encode(S.uni));
  const e = await fetchError(
    bao.env({ CLOUDTASER_SECRET_PATHS: "secret/data/app/uni" }),
  );
  assert.match(
    e.message,
    /key "pässwort" is not a valid environment variable name/,
  );
});

Deno.test("a NUL inside a value is refused for env delivery, naming path and key", async () => {
  const bao = await ready();
  const e = await fetchError(bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/nul",
    CLOUDTASER_ENV_MAP: "pw=NUL_PW",
  }));
  assert.ok(e instanceof VaultError && e.kind === "invalid_value", String(e));
  assert.equal(e.path, "secret/data/app/nul");
  assert.equal(e.key, "pw");
  assert.match(
    e.message,
    /^secret\/data\/app\/nul key "pw" \(for NUL_PW\) contains a NUL byte, which environment delivery cannot carry/,
  );
  errors.push(e.message);
});

Deno.test("VaultClient reads a KV v2 and a v1 path, one lookup per mount, key names only; a missing key is refused naming the keys", async () => {
  const bao = await ready();
  const env = bao.env({
    CLOUDTASER_SECRET_PATHS: "secret/data/app/db,kv/app",
    CLOUDTASER_ENV_MAP: "password=P;token=T",
  });
  const config = parseConfig(env);
  const client = VaultClient.create(config);
  try {
    await client.login();
    const results = [];
    for (const read of planSecrets(config).reads) {
      const secret = await client.readSecret(read);
      try {
        results.push({
          path: read.path,
          kvVersion: secret.kvVersion,
          keys: objectMembers(secret.body, secret.data).map(([k]) => k),
        });
      } finally {
        secret.body.fill(0);
      }
    }
    assert.deepEqual(results.map((r) => [r.path, r.kvVersion, r.keys.length]), [
      ["secret/data/app/db", 2, 6],
      ["kv/app", 1, 2],
    ]);
    assert.ok(!JSON.stringify(results).includes(S.dbPass));
    // login, a mount lookup and a read for each path
    assert.equal(client.requests, 5);
  } finally {
    client.close();
  }
  const e = await fetchError({ ...env, CLOUDTASER_ENV_MAP: "nope=P" });
  assert.ok(e instanceof VaultError, String(e));
  assert.match(e.message, /secret\/data\/app\/db has no key "nope"/);
});

Deno.test("node-vault reads the same fixtures and gets the same values", async () => {
  const bao = await ready();
  const nv = vault({
    apiVersion: "v1",
    endpoint: bao.addr,
    token: bao.rootToken,
    requestOptions: { ca: await Deno.readTextFile(bao.caCert) },
  });
  const v2 = await nv.read("secret/data/app/db");
  const v1 = await nv.read("kv/app");
  const pinned = await nv.read("secret/data/app/ver?version=1");
  const uni = await nv.read("secret/data/app/uni");
  const ours = await fetchInto(bao.env({
    CLOUDTASER_SECRET_PATHS:
      "secret/data/app/db,kv/app,secret/data/app/ver?version=1,secret/data/app/uni",
    CLOUDTASER_ENV_MAP: "user=U,password=P,port=N;token=T;pw=V;pässwort=PASS",
  }));
  assert.deepEqual(ours.values, {
    U: v2.data.data.user,
    P: v2.data.data.password,
    N: JSON.stringify(v2.data.data.port),
    T: v1.data.token,
    V: pinned.data.data.pw,
    PASS: uni.data.data["pässwort"],
  });
});

Deno.test("no secret in any error message or log line", async () => {
  try {
    const bao = await server();
    assert.ok(errors.length >= 10, `${errors.length} errors collected`);
    assertNoSecretIn([...errors, ...logLines], [
      ...Object.values(S),
      bao.rootToken,
    ]);
  } finally {
    await stop();
  }
});
