/**
 * The region's generation seqlock (docs/refresh.md "signal:NAME"): the
 * supervisor's in-place writer (region_write_in_place, driven by
 * build/region_flipper) flips a region between two record sets as fast as
 * it can while a reader in another process reads it on the real kernel.
 * A reader that ignores the generation sees torn records (the positive
 * control: the test can see tearing); the C SDK's cloudtaser_read and the
 * interposer's getenv never do, and both see both sets.
 */
import assert from "node:assert/strict";
import { nativePath } from "../../ffi/mod.ts";
import { TESTAPP } from "../support/supervisor.ts";

const FLIPPER = nativePath("region_flipper");
const INTERPOSER = nativePath("libcloudtaser_interposer.so");
const READ_MS = "1500";

async function readWhileFlipping(how: "raw" | "sdk" | "getenv") {
  const mode = how === "getenv" ? "interposer" : "fd";
  const r = await new Deno.Command(FLIPPER, {
    args: [mode, INTERPOSER, "--", TESTAPP, "torn", how, READ_MS],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  const err = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, out + err);
  const m = /^reads (\d+) torn (\d+) a (\d+) b (\d+)$/m.exec(out);
  const flips = /^flips (\d+)$/m.exec(err);
  assert.ok(m && flips, out + err);
  const [reads, torn, a, b] = m.slice(1).map(Number);
  return { reads, torn, a, b, flips: Number(flips[1]), text: out + err };
}

Deno.test("generation positive control: a reader that ignores the generation sees torn records while the supervisor writes in place", async () => {
  const r = await readWhileFlipping("raw");
  assert.ok(r.flips > 100, r.text);
  assert.ok(r.torn > 0, `no torn read in ${r.reads} reads: ${r.text}`);
});

Deno.test("generation: the C SDK's cloudtaser_read never sees a torn record, and sees both record sets", async () => {
  const r = await readWhileFlipping("sdk");
  assert.equal(r.torn, 0, r.text);
  assert.ok(r.a > 0 && r.b > 0, r.text);
});

Deno.test("generation: the interposer's getenv never sees a torn record, and follows new generations", async () => {
  const r = await readWhileFlipping("getenv");
  assert.equal(r.torn, 0, r.text);
  assert.ok(r.a > 0 && r.b > 0, r.text);
});
