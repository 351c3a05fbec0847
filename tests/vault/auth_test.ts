/**
 * Every auth method against a real OpenBao over TLS, the namespace header,
 * and the login failures (no client certificate, untrusted-CA certificate,
 * bad credentials).
 */
import assert from "node:assert/strict";
import { VaultError } from "../../src/vault/mod.ts";
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
const SECRET = secret("auth");
const NS_SECRET = secret("ns");
const ROOT_DECOY = secret("decoy");
const errors: string[] = [];
const paths = {
  CLOUDTASER_SECRET_PATHS: "secret/data/app/auth",
  CLOUDTASER_ENV_MAP: "pw=APP_PW",
};

async function ready() {
  const bao = await server();
  if (!(await bao.api("GET", "secret/data/app/auth")).json?.data) {
    await put(bao, "secret/data/app/auth", { pw: SECRET });
  }
  return bao;
}

Deno.test("cert auth (mTLS) logs in and reads; the token is protected", async () => {
  const bao = await ready();
  const { report, values } = await fetchInto(bao.env(paths));
  assert.deepEqual(values, { APP_PW: SECRET });
  assert.equal(report.authMethod, "cert");
  assert.equal(report.tokenProtected, true);
  assert.equal(report.skipVerify, false);
  // login + mount preflight + one read + revoke-self
  assert.equal(report.requests, 4);
  assert.equal(report.tokenRevoked, true);
});

Deno.test("approle: role_id from VAULT_AUTH_ROLE, secret_id from a file", async () => {
  const bao = await ready();
  const { report, values } = await fetchInto(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "approle",
    VAULT_AUTH_ROLE: bao.approle.roleId,
    VAULT_APPROLE_SECRET_ID_FILE: bao.approle.secretIdFile,
  })));
  assert.deepEqual(values, { APP_PW: SECRET });
  assert.equal(report.authMethod, "approle");
  assert.equal(report.tokenProtected, true);
});

/** The env without a client certificate (non-cert methods need none). */
function noClientCert(env: Record<string, string>): Record<string, string> {
  const { VAULT_CLIENT_CERT: _c, VAULT_CLIENT_KEY: _k, ...rest } = env;
  return rest;
}

Deno.test("jwt and kubernetes: {role, jwt} from VAULT_JWT_FILE at auth/<method>", async () => {
  const bao = await ready();
  for (const method of ["jwt", "kubernetes"]) {
    const { report, values } = await fetchInto(noClientCert(bao.env({
      ...paths,
      VAULT_AUTH_METHOD: method,
      VAULT_AUTH_ROLE: bao.jwt.role,
      VAULT_JWT_FILE: await bao.jwt.writeFile(),
    })));
    assert.deepEqual(values, { APP_PW: SECRET });
    assert.equal(report.authMethod, method);
  }
});

Deno.test("VAULT_AUTH_MOUNT_PATH picks the mount (with or without auth/)", async () => {
  const bao = await ready();
  for (const mount of ["kubernetes", "auth/kubernetes/"]) {
    const { values } = await fetchInto(noClientCert(bao.env({
      ...paths,
      VAULT_AUTH_METHOD: "jwt",
      VAULT_AUTH_ROLE: bao.jwt.role,
      VAULT_JWT_FILE: await bao.jwt.writeFile(),
      VAULT_AUTH_MOUNT_PATH: mount,
    })));
    assert.deepEqual(values, { APP_PW: SECRET });
  }
  const e = await fetchError(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "jwt",
    VAULT_AUTH_ROLE: bao.jwt.role,
    VAULT_JWT_FILE: await bao.jwt.writeFile(),
    VAULT_AUTH_MOUNT_PATH: "nowhere",
  })));
  errors.push(e.message);
  assert.ok(e instanceof VaultError && e.kind === "auth", String(e));
  assert.match(e.message, /auth\/nowhere.*VAULT_AUTH_MOUNT_PATH/);
});

Deno.test("token: VAULT_TOKEN_FILE is protected, VAULT_TOKEN (env) is not", async () => {
  const bao = await ready();
  const file = `${bao.dir}/token`;
  await Deno.writeTextFile(file, bao.rootToken + "\n", { mode: 0o600 });
  const fromFile = await fetchInto(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "token",
    VAULT_TOKEN_FILE: file,
  })));
  assert.deepEqual(fromFile.values, { APP_PW: SECRET });
  assert.equal(fromFile.report.tokenProtected, true);
  assert.equal(fromFile.report.requests, 2); // no login request
  const fromEnv = await fetchInto(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "token",
    BAO_TOKEN: bao.rootToken,
  })));
  assert.deepEqual(fromEnv.values, { APP_PW: SECRET });
  assert.equal(fromEnv.report.tokenProtected, false);
});

Deno.test("bad credentials: an expired JWT, a wrong secret_id, a bogus token", async () => {
  const bao = await ready();
  const jwt = await fetchError(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "kubernetes",
    VAULT_AUTH_ROLE: bao.jwt.role,
    VAULT_JWT_FILE: await bao.jwt.writeFile({
      exp: Math.floor(Date.now() / 1000) - 3600,
    }),
  })));
  assert.ok(jwt instanceof VaultError && jwt.kind === "auth");
  assert.match(
    jwt.message,
    /login with VAULT_AUTH_METHOD=kubernetes at auth\/kubernetes failed: HTTP 400.*VAULT_JWT_FILE/,
  );
  const wrongId = `${bao.dir}/wrong-secret-id`;
  await Deno.writeTextFile(wrongId, crypto.randomUUID());
  const approle = await fetchError(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "approle",
    VAULT_AUTH_ROLE: bao.approle.roleId,
    VAULT_APPROLE_SECRET_ID_FILE: wrongId,
  })));
  assert.ok(approle instanceof VaultError && approle.kind === "auth");
  assert.match(approle.message, /VAULT_APPROLE_SECRET_ID_FILE/);
  const token = await fetchError(noClientCert(bao.env({
    ...paths,
    VAULT_AUTH_METHOD: "token",
    VAULT_TOKEN: "s.bogus",
  })));
  assert.ok(token instanceof VaultError && token.kind === "forbidden");
  assert.match(
    token.message,
    /secret\/data\/app\/auth: permission denied \(403\)/,
  );
  errors.push(jwt.message, approle.message, token.message);
});

Deno.test("cert auth without a client certificate fails with advice", async () => {
  const bao = await ready();
  const e = await fetchError(noClientCert(bao.env(paths)));
  errors.push(e.message);
  assert.ok(e instanceof VaultError && e.kind === "auth", String(e));
  assert.match(
    e.message,
    /login with VAULT_AUTH_METHOD=cert at auth\/cert failed: HTTP 4\d\d.*check VAULT_CLIENT_CERT/,
  );
});

Deno.test("cert auth with a certificate from an untrusted CA fails", async () => {
  const bao = await ready();
  const e = await fetchError(bao.env({
    ...paths,
    VAULT_CLIENT_CERT: bao.untrustedCert,
    VAULT_CLIENT_KEY: bao.untrustedKey,
  }));
  errors.push(e.message);
  assert.ok(e instanceof VaultError, String(e));
  // The listener asks for a certificate signed by its client CA: rustls
  // hands over the untrusted one, and either the handshake or the login
  // refuses it.
  assert.ok(["auth", "tls"].includes(e.kind), e.message);
  assert.match(e.message, /VAULT_CLIENT_CERT/);
});

Deno.test("VAULT_NAMESPACE is sent as X-Vault-Namespace (namespace ns1)", async () => {
  const bao = await ready();
  const created = await bao.api("POST", "sys/namespaces/ns1", {});
  assert.ok(created.status < 300, JSON.stringify(created.json));
  const mount = await bao.api("POST", "sys/mounts/secret", {
    type: "kv",
    options: { version: "2" },
  }, { namespace: "ns1" });
  assert.ok(mount.status < 300, JSON.stringify(mount.json));
  for (let i = 0; i < 100; i++) {
    const r = await bao.api("POST", "secret/data/nsapp", {
      data: { pw: NS_SECRET },
    }, { namespace: "ns1" });
    if (r.status < 300) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await put(bao, "secret/data/nsapp", { pw: ROOT_DECOY });
  const file = `${bao.dir}/ns-token`;
  await Deno.writeTextFile(file, bao.rootToken);
  const env = noClientCert(bao.env({
    VAULT_AUTH_METHOD: "token",
    VAULT_TOKEN_FILE: file,
    CLOUDTASER_SECRET_PATHS: "secret/data/nsapp",
  }));
  const inNs = await fetchInto({ ...env, VAULT_NAMESPACE: "ns1" });
  assert.deepEqual(inNs.values, { pw: NS_SECRET });
  const viaBao = await fetchInto({ ...env, BAO_NAMESPACE: "ns1" });
  assert.deepEqual(viaBao.values, { pw: NS_SECRET });
  const root = await fetchInto(env);
  assert.deepEqual(root.values, { pw: ROOT_DECOY });
});

Deno.test("no secret or token in any error message or log line", async () => {
  try {
    const bao = await server();
    assertNoSecretIn([...errors, ...logLines], [
      SECRET,
      NS_SECRET,
      ROOT_DECOY,
      bao.rootToken,
    ]);
    assert.ok(errors.length >= 6, `${errors.length} errors collected`);
  } finally {
    await stop();
  }
});
