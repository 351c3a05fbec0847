/**
 * The Deno SDK follows a change written in place (docs/refresh.md, the
 * generation seqlock at header offset 24): `read()` copies a value of one
 * generation and waits out a writer, `get()` indexes again after a change.
 * The writer here does what the supervisor does, through its own shared
 * mapping of the same memfd_secret file.
 */
import assert from "node:assert/strict";
import * as native from "../../ffi/shim.ts";
import { OFF_GENERATION } from "../../src/region/format.ts";
import { fillRegionFd } from "../../src/refresh/region_fds.ts";
import { SecretRegion } from "../../src/region/secret_region.ts";
import { openSecrets } from "../../src/sdk/open_secrets.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function regionWith(records: Record<string, string>): SecretRegion {
  const r = SecretRegion.create();
  for (const [k, v] of Object.entries(records)) r.append(k, enc.encode(v));
  return r;
}

Deno.test("sdk: read() and get() see a change written in place; read() refuses to settle while a writer holds the generation odd", () => {
  const old = regionWith({ A: "old-value", B: "b" });
  const next = regionWith({ B: "b", A: "the-new-and-longer-value" });
  const fd = native.memfdSecret();
  fillRegionFd(fd, old);
  const size = old.size;
  // The writer's mapping, kept after the SDK closes the fd.
  const at = native.mmap(
    0n,
    size,
    native.PROT.READ | native.PROT.WRITE,
    native.MAP.SHARED,
    fd,
  );
  const w = native.viewOf(at, size);
  const gen = new DataView(w.buffer, w.byteOffset + OFF_GENERATION, 4);
  const s = openSecrets({ fd, unsetEnv: false });
  try {
    assert.equal(s.generation, 0);
    assert.equal(dec.decode(s.read("A")), "old-value");
    assert.equal(dec.decode(s.get("A")), "old-value");
    // A writer in the middle of a change: nothing settles.
    gen.setUint32(0, 1, true);
    assert.throws(() => s.read("A"), /did not settle \(generation 1\)/);
    // The change: every byte but the generation, then the generation even.
    w.set(native.viewOf(next.address, size));
    gen.setUint32(0, 2, true);
    assert.equal(s.generation, 2);
    assert.equal(dec.decode(s.read("A")), "the-new-and-longer-value");
    assert.equal(dec.decode(s.get("A")), "the-new-and-longer-value");
    assert.deepEqual(s.keys(), ["B", "A"]);
  } finally {
    s.close();
    w.fill(0);
    native.munmap(at, size);
    old.wipe();
    next.wipe();
  }
});

Deno.test("control: without the generation check an index kept from before the change reads the wrong bytes", () => {
  const old = regionWith({ A: "old-value", B: "b" });
  const next = regionWith({ B: "b", A: "the-new-and-longer-value" });
  try {
    const before = native.viewOf(old.address, old.size).slice();
    const after = native.viewOf(next.address, next.size).slice();
    // The offsets the old index holds for A, applied to the new bytes.
    const i = dec.decode(before).indexOf("A=") + 2;
    const stale = dec.decode(after.subarray(i, i + "old-value".length));
    assert.notEqual(stale, "old-value");
    assert.notEqual(stale, "the-new-and-longer-value");
    before.fill(0);
    after.fill(0);
  } finally {
    old.wipe();
    next.wipe();
  }
});
