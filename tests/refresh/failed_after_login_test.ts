/**
 * A refresh whose fresh login succeeds but whose later step fails reports
 * `status=failed`, so the supervisor keeps the old token and never learns
 * of the new one: the refresh revokes the new token itself (revoke-self
 * with it) before it reports. Proven on the real OpenBao: the new token's
 * accessor is gone after the failed refresh, while the start's is still
 * there (and the failure is a real one, named in the report).
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/parse.ts";
import { refreshPolicy } from "../../src/refresh/policy.ts";
import { configEntries } from "../../src/refresh/region_fds.ts";
import { initialState } from "../../src/refresh/start_side.ts";
import { encodeState } from "../../src/refresh/state.ts";
import { SecretRegion } from "../../src/region/secret_region.ts";
import { fetchSecrets } from "../../src/vault/fetch_secrets.ts";
import type { OpenBao } from "../support/openbao/server.ts";
import { startOpenBao } from "../support/openbao/server.ts";
import { runRefresh } from "../support/refresh_process.ts";
import { accessors } from "../support/running.ts";
import { assertNoSecretInOutput, put, secret } from "../support/wrapper.ts";

const A = secret("fla");
const B = secret("flb");

let started: Promise<OpenBao> | undefined;
const server = () => started ??= startOpenBao();

/**
 * Starts with `paths` and the token kept, runs `prepare`, then one due
 * refresh that must log in again and re-read every KV path, with `app` in
 * place of the start's region when given. Returns the report and the
 * accessors that are not the start's and were not there before.
 */
async function failedAfterLogin(
  paths: string,
  prepare: () => Promise<void>,
  app?: (region: SecretRegion) => SecretRegion,
) {
  const bao = await server();
  const before = new Set(await accessors(bao));
  const env = bao.env({
    PATH: "/usr/bin:/bin",
    CLOUDTASER_SECRET_PATHS: paths,
    CLOUDTASER_REFRESH_INTERVAL: "1h",
  });
  const config = parseConfig(env);
  const region = SecretRegion.create();
  const fetch = await fetchSecrets({ config, region, keepToken: () => true });
  const other = app?.(region);
  try {
    assert.ok(fetch.token, "the token was kept");
    const startTokens = (await accessors(bao)).filter((a) => !before.has(a));
    assert.equal(startTokens.length, 1, "the start's token");
    await prepare();
    const now = Date.now();
    const state = initialState(fetch, refreshPolicy(config), now);
    const r = await runRefresh({
      op: "due",
      state: encodeState({ ...state, relogin: true, renewAt: now, kvAt: now }),
      token: fetch.token.region!,
      app: other ?? region,
      config: configEntries(env),
    });
    assert.equal(r.code, 0, r.stderr);
    const after = await accessors(bao);
    assert.ok(after.includes(startTokens[0]), "the start's token is kept");
    return {
      report: r.report,
      outToken: r.outToken,
      left: after.filter((a) => !before.has(a) && a !== startTokens[0]),
    };
  } finally {
    other?.wipe();
    region.wipe();
    fetch.token?.wipe();
  }
}

Deno.test("refresh: a fresh login followed by a failed KV step revokes the new token (its accessor is gone)", async () => {
  const bao = await server();
  await put(bao, "secret/data/fl/a", { value: A });
  const r = await failedAfterLogin("secret/data/fl/a", async () => {
    // The metadata read after the login now gets 404.
    const del = await bao.api("DELETE", "secret/metadata/fl/a");
    assert.equal(del.status, 204);
  });
  assert.equal(r.report.status, "failed", JSON.stringify(r.report));
  assert.equal(r.report.token, "same");
  assert.equal(r.outToken, undefined);
  assert.match(r.report.message, /metadata of secret\/data\/fl\/a/);
  assert.deepEqual(r.left, [], "no token of the refresh's login is left");
  assert.match(r.report.message, /the new login token was revoked/);
});

Deno.test("refresh: a fresh login followed by a failed rebuild (the app region lacks a record) revokes the new token", async () => {
  const bao = await server();
  await put(bao, "secret/data/fl/b", { value: B });
  await put(bao, "secret/data/fl/c", { other: "not-secret-c" });
  const r = await failedAfterLogin(
    "secret/data/fl/b,secret/data/fl/c",
    async () => {
      // fl/b is read again (a new version); fl/c is copied from the app's
      // region, which lacks it below: the rebuild fails after the login's
      // token went into the new token region.
      await put(bao, "secret/data/fl/b", { value: B + "2" });
    },
    () => {
      const lacking = SecretRegion.create();
      lacking.append("value", new TextEncoder().encode(B));
      return lacking;
    },
  );
  assert.equal(r.report.status, "failed", JSON.stringify(r.report));
  assert.equal(r.report.token, "same");
  assert.match(r.report.message, /the app region holds no other record/);
  assert.deepEqual(r.left, [], "no token of the refresh's login is left");
  assert.match(r.report.message, /the new login token was revoked/);
});

Deno.test("refresh: failed-after-login server stops", async () => {
  if (started) await (await started).stop();
  assertNoSecretInOutput([A, B]);
});
