/**
 * Refresh end to end: the real wrapper hands over to the real supervisor,
 * which starts the real `refresh` processes against the real OpenBao. KV v2
 * rotation with restart (env delivery) and signal (interposer delivery, the
 * app's pid unchanged), token renewal over a run, revocation at exit.
 * Values are never printed: the apps print hashes (sha256 prefix, FNV-1a).
 */
import assert from "node:assert/strict";
import { TESTAPP } from "../support/supervisor.ts";
import type { OpenBao } from "../support/openbao/server.ts";
import { startOpenBao } from "../support/openbao/server.ts";
import { accessors, fnv, run, sha16 } from "../support/running.ts";
import { assertNoSecretInOutput, put, secret } from "../support/wrapper.ts";

const A = secret("e2a");
const B = secret("e2b");
const C = secret("e2c");
const D = secret("e2d");
const E = secret("e2e");
const F = secret("e2f");
const G = secret("e2g");
const H = secret("e2h");
const I = secret("e2i");
const J = secret("e2j");

let started: Promise<OpenBao> | undefined;
const server = () =>
  started ??= startOpenBao({ tokenTtl: "6s", tokenMaxTtl: "1h" });

Deno.test("e2e restart (env delivery): a rotated KV v2 value reaches a new app within the interval; token revoked at exit", async () => {
  const bao = await server();
  await put(bao, "secret/data/e2e/r", { value: A });
  const before = new Set(await accessors(bao));
  // Prints its pid and a hash of the value every 200 ms.
  const app =
    'while :; do echo "app $$ $(printf %s "$APP_VALUE" | sha256sum | cut -c1-16)"; sleep 0.2; done';
  const w = await run(
    ["--", "/bin/sh", "-c", app],
    bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/e2e/r",
      CLOUDTASER_ENV_MAP: "value=APP_VALUE",
      CLOUDTASER_REFRESH_INTERVAL: "1s",
      CLOUDTASER_CHANGE_SPLAY: "0",
      CLOUDTASER_KILL_TIMEOUT: "5s",
    }),
  );
  try {
    const ha = await sha16(A), hb = await sha16(B);
    await w.until(() => w.out.includes(ha), 20_000, "first value");
    const pidA = /app (\d+) /.exec(w.out)![1];
    assert.equal(
      (await accessors(bao)).filter((a) => !before.has(a)).length,
      1,
      "the token is kept for refresh",
    );
    await put(bao, "secret/data/e2e/r", { value: B });
    await w.until(() => w.out.includes(hb), 15_000, "rotated value");
    const pidB = new RegExp(`app (\\d+) ${hb}`).exec(w.out)![1];
    assert.notEqual(pidB, pidA, "restart: a new app");
    w.kill("SIGTERM");
    const s = await w.status();
    assert.equal(s.code, 143, w.err);
    assert.deepEqual(
      (await accessors(bao)).filter((a) => !before.has(a)),
      [],
      `the token was revoked at exit\n${w.err}`,
    );
  } finally {
    await w.end();
  }
});

/** signal:SIGHUP: the app's pid stays, its next read sees the new value. */
async function signalCase(
  delivery: "interposer" | "fd",
  path: string,
  before: string,
  after: string,
) {
  const bao = await server();
  await put(bao, path, { value: before });
  const how = delivery === "fd" ? "sdk" : "getenv";
  const w = await run(
    ["--", TESTAPP, "watch", "APP_VALUE", how],
    bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: path,
      CLOUDTASER_ENV_MAP: "value=APP_VALUE",
      CLOUDTASER_DELIVERY: delivery,
      CLOUDTASER_REFRESH_INTERVAL: "1s",
      CLOUDTASER_CHANGE_SPLAY: "0",
      CLOUDTASER_ON_CHANGE: "signal:SIGHUP",
    }),
  );
  try {
    await w.until(() => /ready \d+/.test(w.out), 20_000, "app ready");
    const pid = /ready (\d+)/.exec(w.out)![1];
    await put(bao, path, { value: after });
    await w.until(
      () => w.out.includes(`fnv=${fnv(after)}`),
      15_000,
      `the new value after SIGHUP (old fnv=${fnv(before)}, new fnv=${
        fnv(after)
      })`,
    );
    assert.equal([...w.out.matchAll(/ready (\d+)/g)].length, 1, "one app");
    assert.equal(/ready (\d+)/.exec(w.out)![1], pid);
    w.kill("SIGTERM");
    assert.equal((await w.status()).code, 0, w.err);
  } finally {
    await w.end();
  }
}

Deno.test("e2e signal:SIGHUP (fd delivery, C SDK): the same app reads the new value after the signal", async () => {
  await signalCase("fd", "secret/data/e2e/f", E, F);
});

Deno.test("e2e signal:SIGHUP (interposer delivery): the same app sees the new value on its next getenv", async () => {
  await signalCase("interposer", "secret/data/e2e/s", C, D);
});

Deno.test("e2e restart (interposer delivery): the new app's getenv answers the rotated value", async () => {
  const bao = await server();
  await put(bao, "secret/data/e2e/ri", { value: G });
  const w = await run(
    ["--", TESTAPP, "watch", "APP_VALUE", "getenv"],
    bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/e2e/ri",
      CLOUDTASER_ENV_MAP: "value=APP_VALUE",
      CLOUDTASER_DELIVERY: "interposer",
      CLOUDTASER_REFRESH_INTERVAL: "1s",
      CLOUDTASER_CHANGE_SPLAY: "0",
    }),
  );
  try {
    await w.until(() => /ready \d+/.test(w.out), 20_000, "app ready");
    const first = /ready (\d+)/.exec(w.out)![1];
    await put(bao, "secret/data/e2e/ri", { value: H });
    await w.until(
      () => [...w.out.matchAll(/ready (\d+)/g)].length === 2,
      15_000,
      "a second app",
    );
    const second = [...w.out.matchAll(/ready (\d+)/g)][1][1];
    assert.notEqual(second, first);
    Deno.kill(Number(second), "SIGHUP");
    await w.until(
      () => w.out.includes(`fnv=${fnv(H)}`),
      10_000,
      "the new app's getenv",
    );
    w.kill("SIGTERM");
    assert.equal((await w.status()).code, 0, w.err);
  } finally {
    await w.end();
  }
});

Deno.test("e2e none (env delivery): a change is logged, the app keeps its pid and its value", async () => {
  const bao = await server();
  await put(bao, "secret/data/e2e/n", { value: I });
  const app =
    'while :; do echo "app $$ $(printf %s "$APP_VALUE" | sha256sum | cut -c1-16)"; sleep 0.2; done';
  const w = await run(
    ["--", "/bin/sh", "-c", app],
    bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/e2e/n",
      CLOUDTASER_ENV_MAP: "value=APP_VALUE",
      CLOUDTASER_REFRESH_INTERVAL: "1s",
      CLOUDTASER_CHANGE_SPLAY: "0",
      CLOUDTASER_ON_CHANGE: "none",
    }),
  );
  try {
    const hi = await sha16(I);
    await w.until(() => w.out.includes(hi), 20_000, "first value");
    await put(bao, "secret/data/e2e/n", { value: J });
    await w.until(
      () => /a change is not delivered \(--on-change none\)/.test(w.err),
      15_000,
      "the change logged",
    );
    await new Promise((r) => setTimeout(r, 1000));
    const pids = new Set([...w.out.matchAll(/app (\d+) /g)].map((m) => m[1]));
    assert.equal(pids.size, 1, "one app");
    assert.ok(!w.out.includes(await sha16(J)), "the old value kept");
    assert.ok(w.out.trim().split("\n").at(-1)!.endsWith(hi));
    w.kill("SIGTERM");
    assert.equal((await w.status()).code, 143, w.err);
  } finally {
    await w.end();
  }
});

Deno.test("e2e: no secret in any output", async () => {
  try {
    assertNoSecretInOutput([A, B, C, D, E, F, G, H, I, J]);
  } finally {
    if (started) await (await started).stop();
  }
});
