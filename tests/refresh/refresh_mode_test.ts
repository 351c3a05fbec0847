/**
 * The `refresh` mode against the real OpenBao, run as the supervisor will
 * run it (tes../support/refresh_process.ts): token renewal, a fresh login, KV v2
 * rotation read through metadata, KV v1 compared byte for byte, back-off
 * when the server cannot be reached, and revocation at exit.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/parse.ts";
import { refreshPolicy } from "../../src/refresh/policy.ts";
import { configEntries } from "../../src/refresh/region_fds.ts";
import { initialState } from "../../src/refresh/start_side.ts";
import {
  decodeState,
  encodeState,
  type RefreshState,
} from "../../src/refresh/state.ts";
import { SecretRegion } from "../../src/region/secret_region.ts";
import { fetchSecrets } from "../../src/vault/fetch_secrets.ts";
import type { TokenStore } from "../../src/vault/token_store.ts";
import type { OpenBao } from "../support/openbao/server.ts";
import { startOpenBao } from "../support/openbao/server.ts";
import { runRefresh } from "../support/refresh_process.ts";
import { assertNoSecretInOutput, put, secret } from "../support/wrapper.ts";

const dec = new TextDecoder();
const V1 = secret("rv1");
const V2 = secret("rv2");
const KV1A = secret("kva");
const KV1B = secret("kvb");
const SECRETS = [V1, V2, KV1A, KV1B];
const tokens: string[] = [];

let started: Promise<OpenBao> | undefined;
// Short token TTL: a renewal is seen in the TTL the server reports.
const server = () =>
  started ??= startOpenBao({ tokenTtl: "30s", tokenMaxTtl: "1h" });

interface Started {
  env: Record<string, string>;
  region: SecretRegion;
  token: TokenStore;
  state: RefreshState;
}

/** The start side, in this process: fetch with the token kept. */
async function start(extra: Record<string, string>): Promise<Started> {
  const bao = await server();
  const env = bao.env({
    PATH: "/usr/bin:/bin",
    CLOUDTASER_REFRESH_INTERVAL: "1h",
    CLOUDTASER_CHANGE_SPLAY: "0",
    ...extra,
  });
  const config = parseConfig(env);
  const region = SecretRegion.create();
  const fetch = await fetchSecrets({ config, region, keepToken: () => true });
  assert.ok(fetch.token, "the token was kept");
  tokens.push(dec.decode(fetch.token.region!.value("VAULT_TOKEN")!));
  return {
    env,
    region,
    token: fetch.token,
    state: initialState(fetch, refreshPolicy(config), Date.now()),
  };
}

function value(m: Map<string, Uint8Array> | undefined, k: string) {
  const v = m?.get(k);
  return v && dec.decode(v);
}

async function lookup(bao: OpenBao, token: string) {
  return await bao.api("POST", "auth/token/lookup", { token });
}

Deno.test("refresh: a rotated KV v2 secret is read again (metadata first) and delivered as a complete region", async () => {
  const bao = await server();
  await put(bao, "secret/data/rot/a", { value: V1 });
  await put(bao, "secret/data/rot/b", { other: "not-secret-b" });
  const s = await start({
    CLOUDTASER_SECRET_PATHS: "secret/data/rot/a,secret/data/rot/b",
    CLOUDTASER_ENV_MAP: "value=APP_VALUE;other=OTHER",
  });
  try {
    assert.equal(s.state.reads[0].ver, 1);
    const due = { ...s.state, kvAt: Date.now() };
    // Nothing changed: the app keeps its region, no out region is written.
    let r = await runRefresh({
      op: "due",
      state: encodeState(due),
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.status, "ok", JSON.stringify(r.report));
    assert.equal(r.report.app, "same");
    assert.equal(r.outApp, undefined);
    await put(bao, "secret/data/rot/a", { value: V2 });
    r = await runRefresh({
      op: "due",
      state: encodeState(due),
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    });
    assert.equal(r.report.status, "ok", JSON.stringify(r.report));
    assert.equal(r.report.app, "changed");
    assert.equal(r.report.token, "same");
    assert.match(r.report.message, /changed: secret\/data\/rot\/a$/);
    assert.deepEqual([...r.outApp!.keys()], ["APP_VALUE", "OTHER"]);
    assert.equal(value(r.outApp, "APP_VALUE"), V2);
    assert.equal(value(r.outApp, "OTHER"), "not-secret-b");
    const next = decodeState(r.report.state);
    assert.equal(next.reads[0].ver, 2);
    assert.ok(next.kvAt > Date.now() + 3_500_000, "next check an interval on");
    assert.ok(Number(r.report.due_ms) > 0);
  } finally {
    s.region.wipe();
    s.token.wipe();
  }
});

Deno.test("refresh: KV v1 is compared byte for byte; a pinned version is never re-read", async () => {
  const bao = await server();
  await put(bao, "kv/rot1", { value: KV1A });
  await put(bao, "secret/data/rot/pinned", { p: "pinned-1" });
  const s = await start({
    CLOUDTASER_SECRET_PATHS: "kv/rot1,secret/data/rot/pinned?version=1",
    CLOUDTASER_ENV_MAP: "value=V1_VALUE;p=PINNED",
  });
  try {
    const due = encodeState({ ...s.state, kvAt: Date.now() });
    const args = {
      op: "due" as const,
      state: due,
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    };
    let r = await runRefresh(args);
    assert.equal(r.report.app, "same", JSON.stringify(r.report));
    await put(bao, "kv/rot1", { value: KV1B });
    await put(bao, "secret/data/rot/pinned", { p: "pinned-2" });
    r = await runRefresh(args);
    assert.equal(r.report.app, "changed", JSON.stringify(r.report));
    assert.equal(value(r.outApp, "V1_VALUE"), KV1B);
    assert.equal(value(r.outApp, "PINNED"), "pinned-1");
  } finally {
    s.region.wipe();
    s.token.wipe();
  }
});

Deno.test("refresh: the token is renewed at its due time, and a fresh login replaces it when asked", async () => {
  const bao = await server();
  await put(bao, "secret/data/rot/t", { value: "not-secret-t" });
  const s = await start({ CLOUDTASER_SECRET_PATHS: "secret/data/rot/t" });
  const token = tokens.at(-1)!;
  try {
    assert.equal(s.state.loginTtlMs, 30_000);
    assert.ok(s.state.renewAt > Date.now() + 15_000, "due at about 2/3 TTL");
    await new Promise((r) => setTimeout(r, 2500));
    const before = (await lookup(bao, token)).json.data.ttl as number;
    assert.ok(before <= 28, `ttl ${before} went down`);
    let r = await runRefresh({
      op: "due",
      state: encodeState({ ...s.state, renewAt: Date.now() }),
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    });
    assert.equal(r.report.status, "ok", JSON.stringify(r.report));
    assert.equal(r.report.token, "same");
    assert.match(r.report.message, /token renewed for 30 s/);
    const after = (await lookup(bao, token)).json.data.ttl as number;
    assert.ok(after >= 29, `ttl ${after} after the renewal`);
    const next = decodeState(r.report.state);
    assert.ok(next.renewAt > Date.now() + 15_000);
    assert.ok(Number(r.report.due_ms) <= 22_000);
    // A token the next renewal cannot keep: a fresh login, a new token.
    r = await runRefresh({
      op: "due",
      state: encodeState({ ...s.state, renewAt: Date.now(), relogin: true }),
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    });
    assert.equal(r.report.token, "changed", JSON.stringify(r.report));
    const fresh = value(r.outToken, "VAULT_TOKEN")!;
    tokens.push(fresh);
    assert.notEqual(fresh, token);
    assert.equal((await lookup(bao, fresh)).status, 200);
  } finally {
    s.region.wipe();
    s.token.wipe();
  }
});

Deno.test("refresh: a refused renewal (revoked token) logs in again", async () => {
  const bao = await server();
  await put(bao, "secret/data/rot/t", { value: "not-secret-t" });
  const s = await start({ CLOUDTASER_SECRET_PATHS: "secret/data/rot/t" });
  try {
    const old = tokens.at(-1)!;
    await bao.api("POST", "auth/token/revoke", { token: old });
    const r = await runRefresh({
      op: "due",
      state: encodeState({ ...s.state, renewAt: Date.now() }),
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    });
    assert.equal(r.report.status, "ok", JSON.stringify(r.report));
    assert.equal(r.report.token, "changed");
    assert.match(r.report.message, /HTTP 403: logging in again/);
    tokens.push(value(r.outToken, "VAULT_TOKEN")!);
  } finally {
    s.region.wipe();
    s.token.wipe();
  }
});

Deno.test("refresh: an unreachable server is a failed report with back-off 1 s, doubling (jitter 10 %)", async () => {
  await server();
  await put(await server(), "secret/data/rot/t", { value: "not-secret-t" });
  const s = await start({ CLOUDTASER_SECRET_PATHS: "secret/data/rot/t" });
  try {
    // A port nobody listens on (the server's own, plus one, is not bound).
    const bad = configEntries({
      ...s.env,
      VAULT_ADDR: `https://127.0.0.1:${(await server()).port + 1}`,
      VAULT_MAX_RETRIES: "0",
    });
    let state = { ...s.state, renewAt: Date.now() };
    for (const expect of [1000, 2000, 4000]) {
      const r = await runRefresh({
        op: "due",
        state: encodeState(state),
        token: s.token.region!,
        app: s.region,
        config: bad,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.report.status, "failed", JSON.stringify(r.report));
      assert.equal(r.report.token, "same");
      const due = Number(r.report.due_ms);
      assert.ok(
        due >= expect * 0.9 && due <= expect * 1.1,
        `due_ms ${due}, expected about ${expect}`,
      );
      assert.match(r.report.message, /next attempt in/);
      state = decodeState(r.report.state);
      assert.equal(state.backoffMs, expect);
    }
  } finally {
    s.region.wipe();
    s.token.wipe();
  }
});

Deno.test("refresh --op revoke: the token is gone from the server afterwards", async () => {
  const bao = await server();
  await put(bao, "secret/data/rot/t", { value: "not-secret-t" });
  const s = await start({ CLOUDTASER_SECRET_PATHS: "secret/data/rot/t" });
  const token = tokens.at(-1)!;
  try {
    assert.equal((await lookup(bao, token)).status, 200, "control: valid");
    const r = await runRefresh({
      op: "revoke",
      token: s.token.region!,
      app: s.region,
      config: configEntries(s.env),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.status, "ok", JSON.stringify(r.report));
    assert.equal(r.report.token, "revoked");
    assert.notEqual((await lookup(bao, token)).status, 200);
  } finally {
    s.region.wipe();
    s.token.wipe();
  }
});

Deno.test("refresh tests: no secret and no token in any output", async () => {
  try {
    assertNoSecretInOutput([...SECRETS, ...tokens]);
  } finally {
    if (started) await (await started).stop();
  }
});
