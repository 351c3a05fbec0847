/**
 * A refresh held by a server that accepts and never answers: it reports a
 * failure (with the back-off) before the supervisor's timeout would kill it,
 * and while it waits its copies of the token and app regions are
 * memfd_secret pages, which another process (root, through
 * /proc/<pid>/mem) cannot read (EIO), while the same reader reads the
 * refresh's ordinary memory (the positive control).
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/parse.ts";
import { refreshPolicy } from "../../src/refresh/policy.ts";
import { configEntries } from "../../src/refresh/region_fds.ts";
import { initialState } from "../../src/refresh/start_side.ts";
import { encodeState } from "../../src/refresh/state.ts";
import { SecretRegion } from "../../src/region/secret_region.ts";
import { fetchSecrets } from "../../src/vault/fetch_secrets.ts";
import { startOpenBao } from "../support/openbao/server.ts";
import { runRefresh, startRefresh } from "../support/refresh_process.ts";
import { assertNoSecretInOutput, put, secret } from "../support/wrapper.ts";
import { silentPeer } from "../support/listeners.ts";

const S = secret("mem");

/** Reads `len` bytes at `addr` of `pid` through /proc/<pid>/mem. */
function readMem(pid: number, addr: bigint, len: number): Uint8Array {
  const f = Deno.openSync(`/proc/${pid}/mem`, { read: true });
  try {
    f.seekSync(Number(addr), Deno.SeekMode.Start);
    const buf = new Uint8Array(len);
    const n = f.readSync(buf);
    return buf.subarray(0, n ?? 0);
  } finally {
    f.close();
  }
}

Deno.test("a server that never answers: the refresh reports failed before the supervisor's timeout (80 % of CLOUDTASER_REFRESH_TIMEOUT), with the back-off", async () => {
  const bao = await startOpenBao();
  const peer = silentPeer();
  const region = SecretRegion.create();
  let token: { wipe(): void } | undefined;
  try {
    await put(bao, "secret/data/mem/b", { value: S });
    const env = bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/mem/b",
      CLOUDTASER_REFRESH_INTERVAL: "1h",
    });
    const config = parseConfig(env);
    const fetch = await fetchSecrets({ config, region, keepToken: () => true });
    token = fetch.token!;
    const state = initialState(fetch, refreshPolicy(config), Date.now());
    const t0 = Date.now();
    const r = await runRefresh({
      op: "due",
      state: encodeState({ ...state, renewAt: Date.now() }),
      token: fetch.token!.region!,
      app: region,
      config: configEntries({
        ...env,
        VAULT_ADDR: peer.addr,
        VAULT_MAX_RETRIES: "0",
        CLOUDTASER_REFRESH_TIMEOUT: "3s",
      }),
    });
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.status, "failed", JSON.stringify(r.report));
    assert.match(r.report.message, /80 % of CLOUDTASER_REFRESH_TIMEOUT/);
    assert.match(r.report.message, /next attempt in/);
    assert.ok(took < 3000 + 2000, `reported after ${took} ms`);
    assert.ok(Number(r.report.due_ms) >= 900);
  } finally {
    peer.close();
    token?.wipe();
    region.wipe();
    await bao.stop();
  }
});

Deno.test("a refresh in progress: its region copies are memfd_secret, unreadable through /proc/<pid>/mem (EIO); its other memory reads (control)", async () => {
  const bao = await startOpenBao();
  const peer = silentPeer();
  const token = { wipe: () => {} } as { wipe(): void };
  const region = SecretRegion.create();
  try {
    await put(bao, "secret/data/mem/a", { value: S });
    const env = bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "secret/data/mem/a",
      CLOUDTASER_REFRESH_INTERVAL: "1h",
    });
    const config = parseConfig(env);
    const fetch = await fetchSecrets({ config, region, keepToken: () => true });
    token.wipe = () => fetch.token!.wipe();
    const state = initialState(fetch, refreshPolicy(config), Date.now());
    const r = await startRefresh({
      op: "due",
      state: encodeState({ ...state, kvAt: Date.now() }),
      token: fetch.token!.region!,
      app: region,
      config: configEntries({
        ...env,
        VAULT_ADDR: peer.addr,
        VAULT_MAX_RETRIES: "0",
      }),
    });
    try {
      // It maps its regions before it connects: once it has connected, both
      // copies are in its address space.
      const end = Date.now() + 30_000;
      while (peer.connections() === 0 && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(peer.connections() > 0, "the refresh reached the server");
      const maps = Deno.readTextFileSync(`/proc/${r.pid}/maps`).split("\n");
      const secretmem = maps.filter((l) => l.includes("/secretmem"));
      assert.ok(
        secretmem.length >= 2,
        `token and app copies mapped:\n${maps.join("\n")}`,
      );
      for (const line of secretmem) {
        const start = BigInt("0x" + line.split("-")[0]);
        assert.throws(
          () => readMem(r.pid, start, 64),
          /os error 5|Input\/output error/,
          `read of ${line}`,
        );
      }
      // Control: the same reader gets the process's ordinary memory.
      const plain = maps.find((l) => / r--p 00000000 /.test(l))!;
      const got = readMem(r.pid, BigInt("0x" + plain.split("-")[0]), 64);
      assert.equal(got.length, 64, plain);
    } finally {
      r.kill();
      await r.finish();
    }
  } finally {
    peer.close();
    token.wipe();
    region.wipe();
    await bao.stop();
  }
  assertNoSecretInOutput([S]);
});
