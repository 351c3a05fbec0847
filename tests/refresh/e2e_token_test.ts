/**
 * The token over a run, end to end (wrapper -> supervisor -> refresh
 * processes -> real OpenBao): renewed at 2/3 of a 6 s TTL for a minute,
 * a fresh login after the server was down longer than the TTL, the app
 * untouched throughout, everything revoked at exit; the supervisor's RSS
 * does not grow over 50 refreshes. A start that is refused after the fetch
 * revokes the token it kept.
 */
import assert from "node:assert/strict";
import type { OpenBao } from "../support/openbao/server.ts";
import { startOpenBao } from "../support/openbao/server.ts";
import { accessors, run } from "../support/running.ts";
import {
  assertNoSecretInOutput,
  put,
  secret,
  wrapper,
} from "../support/wrapper.ts";

const S = secret("tok");
let started: Promise<OpenBao> | undefined;
const server = () =>
  started ??= startOpenBao({ tokenTtl: "6s", tokenMaxTtl: "1h" });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(
    Deno.readTextFileSync(`/proc/${pid}/status`),
  );
  return Number(m![1]);
}

async function env(extra: Record<string, string> = {}) {
  const bao = await server();
  await put(bao, "secret/data/tok/app", { value: S });
  return bao.env({
    PATH: "/usr/bin:/bin",
    CLOUDTASER_SECRET_PATHS: "secret/data/tok/app",
    CLOUDTASER_ENV_MAP: "value=APP_VALUE",
    ...extra,
  });
}

Deno.test("e2e token: renewed for a minute with a 6 s TTL; after the server was down past the TTL a fresh login; revoked at exit", async () => {
  const bao = await server();
  const before = new Set(await accessors(bao));
  const w = await run(
    ["--", "/bin/sh", "-c", 'echo "app $$"; exec sleep 600'],
    await env({ CLOUDTASER_REFRESH_INTERVAL: "1h" }),
  );
  try {
    await w.until(() => /app \d+/.test(w.out), 20_000, "app started");
    const pid = /app (\d+)/.exec(w.out)![1];
    const mine = async () =>
      (await accessors(bao)).filter((a) => !before.has(a));
    const [first] = await mine();
    assert.ok(first, "the token is kept");
    // Ten TTLs: without renewal the token would be gone after 6 s.
    await sleep(60_000);
    assert.deepEqual(await mine(), [first], "the same token, still valid");
    const renewals = w.err.match(/refresh due: ok; token same/g)?.length ?? 0;
    assert.ok(renewals >= 10, `${renewals} renewals in 60 s\n${w.err}`);
    // Down for longer than the TTL: the token expires meanwhile.
    await bao.seal();
    await sleep(9_000);
    try {
      assert.match(
        w.err,
        /refresh due failed: .*503.*next attempt in [\d.]+ s/,
        "failures while sealed, with the next attempt",
      );
    } finally {
      await bao.unseal();
    }
    await w.until(
      () => /token changed/.test(w.err),
      30_000,
      "a fresh login after the server came back",
    );
    const now = await mine();
    assert.equal(now.length, 1, JSON.stringify(now));
    assert.notEqual(now[0], first, "a new token");
    assert.equal([...w.out.matchAll(/app (\d+)/g)].length, 1, "app kept");
    assert.ok(Deno.readTextFileSync(`/proc/${pid}/status`).length > 0);
    w.kill("SIGTERM");
    assert.equal((await w.status()).code, 143, w.err);
    assert.deepEqual(await mine(), [], "revoked at exit");
  } finally {
    await w.end();
  }
});

Deno.test("e2e token: the supervisor's RSS is the same after 50 refreshes", async () => {
  const w = await run(
    ["--", "/bin/sh", "-c", 'echo "app $$"; exec sleep 600'],
    await env({ CLOUDTASER_REFRESH_INTERVAL: "100ms" }),
  );
  try {
    const count = () => w.err.match(/refresh due: ok/g)?.length ?? 0;
    await w.until(() => count() >= 2, 30_000, "first refreshes");
    const first = rssKb(w.pid);
    await w.until(() => count() >= 52, 120_000, "50 more refreshes");
    const after = rssKb(w.pid);
    console.log(`supervisor RSS: ${first} kB, after 50 refreshes ${after} kB`);
    assert.ok(after <= first + 8, `RSS ${first} kB -> ${after} kB`);
    w.kill("SIGTERM");
    assert.equal((await w.status()).code, 143, w.err);
  } finally {
    await w.end();
  }
});

Deno.test("e2e token: a start refused after the fetch (signal:NAME with env delivery) exits 2 and revokes the kept token", async () => {
  const bao = await server();
  const before = new Set(await accessors(bao));
  const r = await wrapper(
    ["--", "/bin/true"],
    await env({
      CLOUDTASER_REFRESH_INTERVAL: "1m",
      CLOUDTASER_ON_CHANGE: "signal:SIGHUP",
    }),
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /CLOUDTASER_ON_CHANGE=signal:SIGHUP: env delivery/);
  assert.deepEqual((await accessors(bao)).filter((a) => !before.has(a)), []);
});

Deno.test("check lists what will be renewed and refreshed, scores revocation at exit, and revokes the token it kept", async () => {
  const bao = await server();
  const before = new Set(await accessors(bao));
  const r = await wrapper(
    ["check"],
    await env({ CLOUDTASER_REFRESH_INTERVAL: "1m" }),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^token: TTL 6 s, renewed at about 2\/3 of it$/m);
  assert.match(
    r.stdout,
    /^kv: every 60 s: secret\/data\/tok\/app \(KV v2\); on change: restart$/m,
  );
  assert.match(r.stdout, /^at exit: token and leases revoked \(within 5 s\)$/m);
  assert.match(r.stdout, /token_revoked .*revoked at exit/);
  assert.deepEqual((await accessors(bao)).filter((a) => !before.has(a)), []);
  const plain = await wrapper(["check"], await env());
  assert.match(plain.stdout, /^refresh: none \(the token is revoked before/m);
});

Deno.test("e2e token: no secret in any output", async () => {
  try {
    assertNoSecretInOutput([S]);
  } finally {
    if (started) await (await started).stop();
  }
});
