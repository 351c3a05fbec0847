/**
 * A credential file (the mTLS client key, a token, JWT or secret_id file)
 * leaves no copy in the reader's memory once its bytes are wiped: the shim
 * reads it with read(2) straight into the buffer (ct_read_file). Proven
 * from outside: this test reads every readable mapping of the fixture
 * through /proc/<pid>/mem; the control is the same read with the bytes
 * kept. Deno.readFileSync, which the wrapper used before, often leaves part
 * of a file in a freed malloc chunk (the attack matrix found the client
 * key's PEM so in a wrapper frozen after its reads); whether a later
 * allocation has overwritten it by the scan varies, so that count is
 * printed, not asserted.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomMarker } from "../support/markers.ts";
import { copies, scanMemory, startHolder } from "../support/mem_scan.ts";
import { readFileBytes } from "../../ffi/shim.ts";

const FIXTURE = new URL("./fixtures/read_and_hold.ts", import.meta.url)
  .pathname;

/** Copies of `marker` in the fixture once it read `path` `how`. */
async function held(
  how: "shim" | "hold" | "deno",
  path: string,
  marker: string,
) {
  const h = await startHolder(FIXTURE, [how, path]);
  try {
    assert.equal(h.first, "ready");
    return copies(scanMemory(h.pid, { marker: Buffer.from(marker) }), "marker");
  } finally {
    await h.finish();
  }
}

Deno.test("a credential file read by the shim leaves no copy in memory once wiped (the control: the same read, kept)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A PEM-like file: the marker on every line, 4 KiB in all.
    const marker = randomMarker("CTV", "credfile", 16);
    const path = `${dir}/client.key`;
    await Deno.writeTextFile(path, `${marker}\n`.repeat(64), { mode: 0o600 });
    const shim = await held("shim", path, marker);
    const kept = await held("hold", path, marker);
    const deno = await held("deno", path, marker);
    console.log(
      `  copies: readFileBytes, wiped ${shim}; kept (control) ${kept}; ` +
        `Deno.readFileSync, wiped ${deno} (not asserted)`,
    );
    assert.equal(kept, 64, "the scan missed the control's 64 lines");
    assert.equal(shim, 0, "readFileBytes left a copy");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readFileBytes: the whole file, an empty one, and errno names for what cannot be read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const big = new Uint8Array(40_000).map((_, i) => i % 251);
    await Deno.writeFile(`${dir}/big`, big);
    assert.deepEqual(readFileBytes(`${dir}/big`), big, "grows past 16 KiB");
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    assert.equal(readFileBytes(`${dir}/empty`).length, 0);
    assert.throws(
      () => readFileBytes(`${dir}/none`),
      /open\/read failed: ENOENT/,
    );
    assert.throws(() => readFileBytes(dir), /open\/read failed: EISDIR/);
    await Deno.writeFile(`${dir}/huge`, new Uint8Array((1 << 20) + 1));
    assert.throws(() => readFileBytes(`${dir}/huge`), /EFBIG/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
