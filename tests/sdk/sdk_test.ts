/**
 * The SDKs in `fd` delivery: the C single header (c/sdk/cloudtaser.h, through
 * its example) and the TypeScript module (src/sdk/) read the values as views
 * over the mapping, close the fd at once and unset CLOUDTASER_SECRET_FD.
 */
import assert from "node:assert/strict";
import {
  assertEnvironClean,
  assertNoLeak,
  assertRegionMappedNoFd,
  BUILD,
  launch,
  makeSecrets,
  probeLine,
  sha256,
} from "../support/interposer.ts";
import { parseRegion, RegionFormatError } from "../../src/sdk/mod.ts";
import {
  CANARY_SIZE,
  HEADER_SIZE,
  MAGIC,
  OFF_CANARY,
  OFF_DATA_SIZE,
  OFF_RECORD_COUNT,
  OFF_RECORDS_LENGTH,
  OFF_RECORDS_OFFSET,
} from "../../src/region/format.ts";

const SDK_APP = new URL("./fixtures/sdk_app.ts", import.meta.url).pathname;

Deno.test("C SDK: cloudtaser_open maps, closes the fd, and looks keys up without copies", async () => {
  const secrets = makeSecrets("csdk");
  const keys = Object.keys(secrets);
  const app = await launch({
    mode: "fd",
    secrets,
    cmd: [BUILD("cloudtaser_sdk_example"), "--wait", ...keys, "CT_NOT_THERE"],
  });
  try {
    await app.until("ready");
    assertEnvironClean(app.pid, secrets);
    assertRegionMappedNoFd(app.pid);
  } finally {
    const r = await app.finish();
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.ok(lines.includes(`count ${keys.length}`));
    for (const [k, v] of Object.entries(secrets)) {
      assert.ok(lines.includes(probeLine("get", k, v) + " nul=1"), k);
      assert.ok(lines.includes(`key ${k}`));
    }
    assert.ok(lines.includes("get CT_NOT_THERE unset"));
    assert.ok(lines.includes("fdvar unset"));
    assertNoLeak(secrets);
  }
});

Deno.test("TypeScript SDK: openSecrets returns Uint8Array views over the secretmem mapping", async () => {
  const secrets = makeSecrets("tssdk");
  const keys = Object.keys(secrets);
  const app = await launch({
    mode: "fd",
    secrets,
    cmd: [
      Deno.execPath(),
      "run",
      "--allow-env",
      "--allow-ffi",
      "--allow-read",
      SDK_APP,
      "--wait",
      ...keys,
      "CT_NOT_THERE",
    ],
    env: { DENO_DIR: Deno.env.get("DENO_DIR") ?? "/root/.cache/deno" },
  });
  try {
    const out = await app.until("{");
    assert.ok(out.includes("}"));
    assertEnvironClean(app.pid, secrets);
    assertRegionMappedNoFd(app.pid);
  } finally {
    const r = await app.finish();
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split("\n")[0]);
    assert.deepEqual(got.keys, keys);
    assert.equal(got.fdVar, null);
    assert.equal(got.values.CT_NOT_THERE, null);
    for (const [k, v] of Object.entries(secrets)) {
      assert.deepEqual(got.values[k], {
        len: new TextEncoder().encode(v).length,
        sha256: await sha256(v),
      });
    }
    assertNoLeak(secrets);
  }
});

function region(records: string[], size = 4096): Uint8Array {
  const b = new Uint8Array(size);
  b.set(MAGIC, 0);
  const body = new TextEncoder().encode(records.map((r) => r + "\0").join(""));
  b.set(body, HEADER_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(OFF_RECORDS_OFFSET, HEADER_SIZE, true);
  dv.setUint32(OFF_RECORDS_LENGTH, body.length, true);
  dv.setUint32(OFF_RECORD_COUNT, records.length, true);
  dv.setUint32(OFF_DATA_SIZE, size, true);
  const canary = crypto.getRandomValues(new Uint8Array(CANARY_SIZE));
  b.set(canary, OFF_CANARY);
  b.set(canary, size - CANARY_SIZE);
  return b;
}

Deno.test("parseRegion reads records and rejects every malformed header", () => {
  const ok = region(["A=1", "B=x=y", "C="]);
  assert.deepEqual(parseRegion(ok).map((r) => [r.key, r.valueLength]), [
    ["A", 1],
    ["B", 3],
    ["C", 0],
  ]);
  assert.deepEqual(parseRegion(region([])), []);
  const bad: [string, (b: Uint8Array, dv: DataView) => void, RegExp][] = [
    ["magic", (b) => (b[0] = 0), /no magic/],
    ["size", (_, dv) => dv.setUint32(OFF_DATA_SIZE, 8192, true), /data size/],
    [
      "offset",
      (_, dv) => dv.setUint32(OFF_RECORDS_OFFSET, 8, true),
      /out of bounds/,
    ],
    [
      "length",
      (_, dv) => dv.setUint32(OFF_RECORDS_LENGTH, 5000, true),
      /out of bounds/,
    ],
    ["canary", (b) => (b[4095] ^= 1), /canary/],
    ["count", (_, dv) => dv.setUint32(OFF_RECORD_COUNT, 9, true), /3 records/],
    ["terminator", (b) => (b[HEADER_SIZE + 12] = 0x41), /unterminated/],
    ["key", (b) => (b[HEADER_SIZE] = 0x3d), /no key/],
  ];
  for (const [name, corrupt, msg] of bad) {
    const b = region(["A=1", "B=x=y", "C="]);
    corrupt(b, new DataView(b.buffer));
    assert.throws(() => parseRegion(b), (e) => {
      assert.ok(e instanceof RegionFormatError, name);
      assert.match(e.message, msg, name);
      assert.equal(e.notRegion, name === "magic");
      return true;
    });
  }
  assert.throws(() => parseRegion(new Uint8Array(10)), RegionFormatError);
});
