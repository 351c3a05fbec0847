/**
 * The mTLS client key leaves the wrapper's memory once the reads are in:
 * OpenSSL holds it only on the handle and on each connection, and
 * forgetKey frees both (through the zeroing allocator). Proven from
 * outside: this test reads every readable mapping of a fixture that made
 * one mTLS exchange and searches for the key's private scalar, in the
 * byte order of the key file and in that of OpenSSL's BIGNUM limbs (little
 * endian on this machine). The control is the same fixture keeping the
 * key: the scan must find it there.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { sharedServer } from "../support/vault.ts";

const { server, stop } = sharedServer();
const FIXTURE = new URL("./fixtures/pair_and_hold.ts", import.meta.url)
  .pathname;

/** The P-256 private scalar of a PKCS#8 PEM key (its 32 bytes after 04 20). */
function scalar(pem: string): Buffer {
  const der = Buffer.from(
    pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""),
    "base64",
  );
  // ECPrivateKey inside PKCS#8: INTEGER 1 (02 01 01), OCTET STRING 32 (04 20)
  const at = der.indexOf(Buffer.from([0x02, 0x01, 0x01, 0x04, 0x20]));
  assert.ok(at > 0, "not a PKCS#8 P-256 key");
  return der.subarray(at + 5, at + 5 + 32);
}

/** Copies of any needle in every readable mapping of `pid`. */
function copies(pid: number, needles: Buffer[]): number {
  const mem = Deno.openSync(`/proc/${pid}/mem`, { read: true });
  let n = 0;
  try {
    for (const l of Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n")) {
      const [range, perms] = l.split(/\s+/);
      if (!range || !perms.startsWith("r")) continue;
      const [s, e] = range.split("-").map((x) => BigInt("0x" + x));
      const buf = Buffer.alloc(Number(e - s));
      try {
        mem.seekSync(s, Deno.SeekMode.Start);
        for (let at = 0; at < buf.length;) {
          const got = mem.readSync(buf.subarray(at));
          if (!got) break;
          at += got;
        }
      } catch {
        continue; // [vvar], guard pages: nothing to read there
      }
      for (const needle of needles) {
        for (
          let i = buf.indexOf(needle);
          i >= 0;
          i = buf.indexOf(needle, i + 1)
        ) {
          n++;
        }
      }
      buf.fill(0);
    }
  } finally {
    mem.close();
  }
  return n;
}

Deno.test("after forgetKey no copy of the client key's scalar is in memory (the control keeps it and is found)", async () => {
  const bao = await server();
  const d = scalar(Deno.readTextFileSync(bao.clientKey));
  const needles = [d, Buffer.from(d).reverse()];
  const run = async (how: "forget" | "keep") => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        FIXTURE,
        how,
        bao.clientCert,
        bao.clientKey,
        bao.caCert,
        bao.addr,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      const line = JSON.parse(new TextDecoder().decode(value));
      assert.equal(line.status, 200, "the mTLS exchange failed");
      reader.releaseLock();
      return copies(child.pid, needles);
    } finally {
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
    }
  };
  try {
    const forgot = await run("forget");
    const kept = await run("keep");
    console.log(`  key scalar copies: forgotten ${forgot}, kept ${kept}`);
    assert.ok(kept > 0, "the scan missed the key the control keeps");
    assert.equal(forgot, 0, "the client key stayed in memory");
  } finally {
    await stop();
  }
});
