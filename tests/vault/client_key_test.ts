/**
 * The mTLS client key leaves the wrapper's memory once the reads are in:
 * OpenSSL holds it only on the handle and on each connection, and
 * forgetKey frees both (through the zeroing allocator). Proven from
 * outside: this test reads every readable mapping of a fixture that made
 * one mTLS exchange and searches for the key's private scalar, in the
 * byte order of the key file and in that of OpenSSL's BIGNUM limbs (little
 * endian on this machine). The control is the same fixture keeping the
 * key: the scan must find it there. The second test holds the start's own
 * fetch right after its "secrets fetched" (startFetch, the client still
 * open): the key must be gone there too (fetch_secrets.ts drops it).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { put, secret, sharedServer } from "../support/vault.ts";
import {
  copies,
  keyScalar as scalar,
  scanMemory,
  startHolder,
} from "../support/mem_scan.ts";

const { server, stop } = sharedServer();
const PAIR = new URL("./fixtures/pair_and_hold.ts", import.meta.url).pathname;
const PENDING = new URL(
  "./fixtures/fetch_pending_and_hold.ts",
  import.meta.url,
).pathname;

/** Copies of the key's scalar, in either byte order, in `pid`'s memory. */
function keyCopies(pid: number, d: Buffer): number {
  const s = scanMemory(pid, { be: d, le: Buffer.from(d).reverse() });
  return copies(s, "be", "le");
}

Deno.test("after forgetKey no copy of the client key's scalar is in memory (the control keeps it and is found)", async () => {
  const bao = await server();
  const d = scalar(Deno.readTextFileSync(bao.clientKey));
  const run = async (how: "forget" | "keep") => {
    const h = await startHolder(PAIR, [
      how,
      bao.clientCert,
      bao.clientKey,
      bao.caCert,
      bao.addr,
    ]);
    try {
      assert.equal(JSON.parse(h.first).status, 200, "the mTLS exchange failed");
      return keyCopies(h.pid, d);
    } finally {
      await h.finish();
    }
  };
  const forgot = await run("forget");
  const kept = await run("keep");
  console.log(`  key scalar copies: forgotten ${forgot}, kept ${kept}`);
  assert.ok(kept > 0, "the scan missed the key the control keeps");
  assert.equal(forgot, 0, "the client key stayed in memory");
});

Deno.test("a fetch that reported its values holds no copy of the client key while its revocation is answered", async () => {
  const bao = await server();
  try {
    await put(bao, "secret/data/clientkey/app", { value: secret("ck") });
    const h = await startHolder(
      PENDING,
      [],
      bao.env({
        PATH: "/usr/bin:/bin",
        CLOUDTASER_SECRET_PATHS: "secret/data/clientkey/app",
      }),
    );
    try {
      assert.equal(JSON.parse(h.first).keys, 1, h.first);
      const n = keyCopies(h.pid, scalar(Deno.readTextFileSync(bao.clientKey)));
      console.log(`  key scalar copies after "secrets fetched": ${n}`);
      assert.equal(n, 0, "the start kept the client key past its reads");
    } finally {
      const f = await h.finish();
      assert.equal(f.status.code, 0, f.stderr);
    }
  } finally {
    await stop();
  }
});
