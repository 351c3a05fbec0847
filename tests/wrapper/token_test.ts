/**
 * The login token is revoked before the app starts: a copy that outlives the
 * fetch (a freed TLS buffer, a stolen heap) must open nothing. Proven on the
 * real OpenBao by its token accessors: a start leaves none behind.
 */
import assert from "node:assert/strict";
import type { OpenBao } from "../support/openbao/server.ts";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  secret,
  sharedServer,
  wrapper,
} from "../support/wrapper.ts";

const { server, stop } = sharedServer();
const TOKEN_SECRET = secret("tok");

/** Every token accessor the server knows. */
async function accessors(bao: OpenBao): Promise<string[]> {
  const r = await bao.api("LIST", "auth/token/accessors");
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.data.keys as string[];
}

async function env(extra: Record<string, string> = {}) {
  const bao = await server();
  await put(bao, "secret/data/tok/app", { value: TOKEN_SECRET });
  return {
    bao,
    env: bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/tok/app",
      CLOUDTASER_ENV_MAP: "value=APP_VALUE",
      ...extra,
    }),
  };
}

function scoreLine(stderr: string) {
  return logLines({ code: 0, signal: null, stdout: "", stderr }).find((l) =>
    String(l.message).startsWith("protection score")
  );
}

Deno.test("cert and AppRole logins: the token's accessor is gone once the app runs", async () => {
  for (const method of ["cert", "approle"]) {
    const { bao, env: e } = await env(
      method === "approle"
        ? {
          VAULT_AUTH_METHOD: "approle",
          VAULT_AUTH_ROLE: (await server()).approle.roleId,
          VAULT_APPROLE_SECRET_ID_FILE: (await server()).approle.secretIdFile,
        }
        : {},
    );
    const before = new Set(await accessors(bao));
    // The app runs while the accessors are listed: the token must already
    // be revoked at that point, not only at exit.
    const r = await wrapper(
      ["--", "/bin/sh", "-c", 'test -n "$APP_VALUE" && sleep 0.3'],
      e,
    );
    assert.equal(r.code, 0, r.stderr);
    const left = (await accessors(bao)).filter((a) => !before.has(a));
    assert.deepEqual(left, [], `${method}: a login token is still valid`);
    const score = scoreLine(r.stderr);
    assert.ok(score, r.stderr);
    assert.ok(
      !(score.missing as string[]).includes("token_revoked"),
      `${method}: ${JSON.stringify(score)}`,
    );
  }
});

Deno.test("a failed start revokes the token too", async () => {
  const { bao, env: e } = await env({
    CLOUDTASER_ENV_MAP: "no_such_key=APP_VALUE",
  });
  const before = new Set(await accessors(bao));
  const r = await wrapper(["--", "/bin/true"], e);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /has no key .{1,2}no_such_key/);
  assert.deepEqual((await accessors(bao)).filter((a) => !before.has(a)), []);
});

Deno.test("control: a supplied token (VAULT_AUTH_METHOD=token) is not revoked, and the score says so", async () => {
  const { bao, env: e } = await env();
  const created = await bao.api("POST", "auth/token/create", {
    policies: ["app"],
    ttl: "10m",
  });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/token`;
    await Deno.writeTextFile(file, created.json.auth.client_token, {
      mode: 0o600,
    });
    const r = await wrapper(["--", "/bin/true"], {
      ...e,
      VAULT_AUTH_METHOD: "token",
      VAULT_TOKEN_FILE: file,
    });
    assert.equal(r.code, 0, r.stderr);
    // The accessor listing sees the supplied token: the test would see a
    // login token that stayed valid.
    assert.ok((await accessors(bao)).includes(created.json.auth.accessor));
    assert.ok(
      (scoreLine(r.stderr)?.missing as string[]).includes("token_revoked"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("token tests: no secret in any output", async () => {
  await stop();
  assertNoSecretInOutput([TOKEN_SECRET]);
});
