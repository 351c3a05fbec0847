/**
 * Faults, each with a clear error and in bounded time: server down, TLS
 * trust and name problems, a sealed server, rate limiting, and a peer that
 * is not Vault (a raw TLS listener, the one non-OpenBao peer).
 */
import assert from "node:assert/strict";
import { VaultError } from "../../src/vault/mod.ts";
import { tlsPeer } from "../support/listeners.ts";
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
const SECRET = secret("fault");
const errors: string[] = [];
const paths = { PW: "vault:secret/data/app/fault#pw" };

async function ready() {
  const bao = await server();
  if (!(await bao.api("GET", "secret/data/app/fault")).json?.data) {
    await put(bao, "secret/data/app/fault", { pw: SECRET });
  }
  return bao;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("server down: connection refused, retried, then a clear error in bounded time", async () => {
  const bao = await ready();
  const [e, ms] = await timed(() =>
    fetchError(bao.env({
      ...paths,
      VAULT_ADDR: `https://127.0.0.1:${freePort()}`,
      VAULT_MAX_RETRIES: "2",
    }))
  );
  errors.push(e.message);
  assert.ok(e instanceof VaultError && e.kind === "connection", String(e));
  assert.match(
    e.message,
    /^cannot reach https:\/\/127\.0\.0\.1:\d+: .*Connection refused.*check VAULT_ADDR.*\(3 attempts\)$/,
  );
  assert.ok(ms < 5000, `${ms} ms`);
  console.log(`  server down: failed after ${Math.round(ms)} ms`);
});

Deno.test("wrong CA: not retried, names VAULT_CACERT", async () => {
  const bao = await ready();
  const [e, ms] = await timed(() =>
    fetchError(bao.env({ ...paths, VAULT_CACERT: bao.untrustedCaCert }))
  );
  errors.push(e.message);
  assert.ok(e instanceof VaultError && e.kind === "tls", String(e));
  assert.match(
    e.message,
    /TLS with https:\/\/127\.0\.0\.1:\d+ failed: the server certificate is not signed by a CA in VAULT_CACERT or VAULT_CAPATH/,
  );
  assert.ok(ms < 1000, `${ms} ms: a certificate error must not be retried`);
});

Deno.test("VAULT_CAPATH: every PEM in the directory is trusted", async () => {
  const bao = await ready();
  const dir = await Deno.makeTempDir({ dir: bao.dir });
  await Deno.copyFile(bao.untrustedCaCert, `${dir}/a.pem`);
  await Deno.copyFile(bao.caCert, `${dir}/b.pem`);
  await Deno.writeTextFile(`${dir}/README`, "not a certificate");
  const env = bao.env({ ...paths, VAULT_CAPATH: dir });
  delete env.VAULT_CACERT;
  const { values } = await fetchInto(env);
  assert.deepEqual(values, { PW: SECRET });
});

Deno.test("VAULT_TLS_SERVER_NAME: a name in the certificate works, another fails", async () => {
  const bao = await ready();
  const ok = await fetchInto(bao.env({
    ...paths,
    VAULT_TLS_SERVER_NAME: "localhost",
  }));
  assert.deepEqual(ok.values, { PW: SECRET });
  const e = await fetchError(bao.env({
    ...paths,
    VAULT_TLS_SERVER_NAME: "vault.wrong.example",
  }));
  errors.push(e.message);
  assert.ok(e instanceof VaultError && e.kind === "tls", String(e));
  assert.match(
    e.message,
    /the server certificate is not valid for "vault\.wrong\.example" \(check VAULT_ADDR, or set VAULT_TLS_SERVER_NAME/,
  );
});

Deno.test("VAULT_SKIP_VERIFY works without the CA, warns loudly and is reported", async () => {
  const bao = await ready();
  const env = bao.env({ ...paths, VAULT_SKIP_VERIFY: "true" });
  delete env.VAULT_CACERT;
  const before = logLines.length;
  const { values, report } = await fetchInto(env);
  assert.deepEqual(values, { PW: SECRET });
  assert.equal(report.skipVerify, true);
  const warned = logLines.slice(before).map((l) => JSON.parse(l));
  assert.ok(
    warned.some((l) => l.level === "warning" && /NOT verified/.test(l.message)),
    JSON.stringify(warned),
  );
});

Deno.test("sealed server (503): retried, then 'sealed' with what to do", async () => {
  const bao = await ready();
  await bao.seal();
  try {
    const [e, ms] = await timed(() =>
      fetchError(bao.env({ ...paths, VAULT_MAX_RETRIES: "1" }))
    );
    errors.push(e.message);
    assert.ok(e instanceof VaultError && e.kind === "sealed", String(e));
    assert.equal(e.status, 503);
    assert.match(
      e.message,
      /^login with VAULT_AUTH_METHOD=cert at auth\/cert: the server answered 503, it is sealed or not active \(server: Vault is sealed\); unseal it/,
    );
    assert.ok(ms < 3000, `${ms} ms`);
  } finally {
    await bao.unseal();
  }
});

Deno.test("rate limited (429): a sys/quotas/rate-limit quota, then success via retry", async () => {
  const bao = await ready();
  await put(bao, "kv/rl/a", { pw: SECRET + "a" });
  await put(bao, "kv/rl/b", { pw: SECRET + "b" });
  await put(bao, "kv/rl/c", { pw: SECRET + "c" });
  const q = await bao.api("POST", "sys/quotas/rate-limit/kv-rl", {
    path: "kv/",
    rate: 1,
    interval: "1s",
  });
  assert.ok(q.status < 300, JSON.stringify(q.json));
  try {
    const env = bao.env({
      VAULT_MAX_RETRIES: "4",
      CLOUDTASER_SECRET_PATHS: "kv/rl/a,kv/rl/b,kv/rl/c",
      CLOUDTASER_ENV_MAP: "pw=A;pw=B;pw=C",
    });
    const [{ values, report }, ms] = await timed(() => fetchInto(env));
    assert.deepEqual(values, {
      A: SECRET + "a",
      B: SECRET + "b",
      C: SECRET + "c",
    });
    // login + preflight + 3 reads, two of which were refused at least once.
    assert.ok(report.requests >= 7, `${report.requests} requests`);
    console.log(
      `  rate limited: ${report.requests} requests, ${Math.round(ms)} ms`,
    );
    const e = await fetchError({ ...env, VAULT_MAX_RETRIES: "0" });
    errors.push(e.message);
    assert.ok(e instanceof VaultError && e.kind === "rate_limited", String(e));
    assert.match(
      e.message,
      /^reading kv\/rl\/[abc]: still rate limited \(429\) after 0 retries.*raise VAULT_MAX_RETRIES/,
    );
  } finally {
    await bao.api("DELETE", "sys/quotas/rate-limit/kv-rl");
  }
});

Deno.test("Retry-After longer than the time left: fails at once, saying so, instead of waiting out VAULT_CLIENT_TIMEOUT", async () => {
  const bao = await ready();
  // A quota on this one path, so it touches no other test.
  await put(bao, "kv/ra/app", { pw: SECRET });
  // OpenBao sends Retry-After (the block interval left) only with the
  // rate-limit response headers on.
  const cfg = await bao.api("POST", "sys/quotas/config", {
    enable_rate_limit_response_headers: true,
  });
  assert.ok(cfg.status < 300, JSON.stringify(cfg.json));
  const q = await bao.api("POST", "sys/quotas/rate-limit/ra-block", {
    path: "kv/ra/app",
    rate: 1,
    interval: "1m",
    block_interval: "5m",
  });
  assert.ok(q.status < 300, JSON.stringify(q.json));
  try {
    // Use the one request the quota allows, then the next one is blocked.
    await bao.api("GET", "kv/ra/app");
    const blocked = await bao.api("GET", "kv/ra/app");
    assert.equal(blocked.status, 429);
    const [e, ms] = await timed(() =>
      fetchError(bao.env({
        PW: "vault:kv/ra/app#pw",
        VAULT_CLIENT_TIMEOUT: "20s",
        VAULT_MAX_RETRIES: "5",
      }))
    );
    errors.push(e.message);
    assert.ok(e instanceof VaultError && e.kind === "rate_limited", String(e));
    assert.match(
      e.message,
      /^reading kv\/ra\/app: the server answered 429 and asked to retry after \d+ \(Retry-After, \d+ s\), more than the \d+ ms left of VAULT_CLIENT_TIMEOUT=20s; failing now/,
    );
    assert.ok(ms < 5000, `${Math.round(ms)} ms: it waited`);
  } finally {
    await bao.api("DELETE", "sys/quotas/rate-limit/ra-block");
    await bao.api("POST", "sys/quotas/config", {
      enable_rate_limit_response_headers: false,
    });
  }
});

/**
 * A TLS peer on loopback with the OpenBao test certificate that answers every
 * request with `respond(requestCount)` (raw bytes), or never when it returns
 * null.
 */
function rawPeer(
  cert: string,
  key: string,
  respond: (n: number) => string | null,
): { port: number; close: () => Promise<void> } {
  let n = 0;
  return tlsPeer({ cert, key }, async (conn) => {
    const buf = new Uint8Array(65536);
    while ((await conn.read(buf)) !== null) {
      const reply = respond(++n);
      if (reply !== null) await conn.write(new TextEncoder().encode(reply));
    }
  });
}

function http(status: number, body: string): string {
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`;
}

Deno.test("malformed JSON from a raw TLS peer: bad_response, no content echoed", async () => {
  const bao = await ready();
  const cert = await Deno.readTextFile(bao.serverCert);
  const key = await Deno.readTextFile(`${bao.dir}/server.key`);
  const leak = secret("peer");
  const peer = rawPeer(
    cert,
    key,
    () => http(200, `{"auth":{"client_token":"${leak}"`),
  );
  try {
    const e = await fetchError(bao.env({
      ...paths,
      VAULT_ADDR: `https://127.0.0.1:${peer.port}`,
    }));
    errors.push(e.message);
    assert.ok(e instanceof VaultError && e.kind === "bad_response", String(e));
    assert.match(
      e.message,
      /^login with VAULT_AUTH_METHOD=cert at auth\/cert: https:\/\/127\.0\.0\.1:\d+ answered with a body that is not valid JSON \(at byte \d+\); is VAULT_ADDR a Vault server\?$/,
    );
    assert.ok(!e.message.includes(leak));
  } finally {
    await peer.close();
  }
  const html = rawPeer(cert, key, () => http(502, "<html>bad gateway</html>"));
  try {
    const e = await fetchError(bao.env({
      ...paths,
      VAULT_ADDR: `https://127.0.0.1:${html.port}`,
      VAULT_MAX_RETRIES: "1",
    }));
    errors.push(e.message);
    assert.ok(e instanceof VaultError && e.kind === "auth", String(e));
    assert.match(
      e.message,
      /HTTP 502 \(server: \(the response body is not Vault's JSON\)\)/,
    );
  } finally {
    await html.close();
  }
});

Deno.test("a peer that never answers: VAULT_CLIENT_TIMEOUT ends it", async () => {
  const bao = await ready();
  const cert = await Deno.readTextFile(bao.serverCert);
  const key = await Deno.readTextFile(`${bao.dir}/server.key`);
  const peer = rawPeer(cert, key, () => null);
  try {
    const [e, ms] = await timed(() =>
      fetchError(bao.env({
        ...paths,
        VAULT_ADDR: `https://127.0.0.1:${peer.port}`,
        VAULT_CLIENT_TIMEOUT: "800ms",
      }))
    );
    errors.push(e.message);
    assert.ok(e instanceof VaultError && e.kind === "timeout", String(e));
    assert.match(
      e.message,
      /^login with VAULT_AUTH_METHOD=cert at auth\/cert: no answer within VAULT_CLIENT_TIMEOUT=800ms/,
    );
    assert.ok(ms < 2000, `${ms} ms`);
  } finally {
    await peer.close();
  }
});

Deno.test("no secret or token in any error message or log line", async () => {
  try {
    const bao = await server();
    assert.ok(errors.length >= 8, `${errors.length} errors collected`);
    assertNoSecretIn([...errors, ...logLines], [SECRET, bao.rootToken]);
  } finally {
    await stop();
  }
});
