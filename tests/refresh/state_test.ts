/** The refresh state and its times (src/refresh/state.ts), and the program's arguments (start_side.ts). */
import assert from "node:assert/strict";
import { REFRESH } from "../../ffi/constants.ts";
import { ConfigError } from "../../src/config/parse.ts";
import { programArgs } from "../../src/refresh/start_side.ts";
import {
  decodeState,
  dueMs,
  encodeState,
  jitter,
  nextBackoff,
  type RefreshState,
  renewAt,
  stateWithinLimit,
} from "../../src/refresh/state.ts";

const base: RefreshState = {
  v: 1,
  renewAt: 0,
  loginTtlMs: 0,
  relogin: false,
  kvAt: 0,
  intervalMs: 0,
  backoffMs: 0,
  reads: [{ p: "secret/data/a", kv: 2, ver: 3, keys: ["A"] }],
};

Deno.test("renewal at 2/3 of the TTL, ±10 % jitter; none without a TTL", () => {
  assert.equal(renewAt(1000, 0), 0);
  assert.equal(renewAt(0, 30_000, () => 0.5), 20_000);
  assert.equal(renewAt(0, 30_000, () => 0), 18_000);
  assert.equal(renewAt(0, 30_000, () => 1), 22_000);
  for (let i = 0; i < 1000; i++) {
    const j = jitter(1000);
    assert.ok(j >= 900 && j <= 1100, String(j));
  }
});

Deno.test("back-off: 1 s, doubling, at most 60 s (the supervisor's cap)", () => {
  const seen = [];
  let b = 0;
  for (let i = 0; i < 9; i++) seen.push(b = nextBackoff(b));
  assert.deepEqual(seen, [
    1000,
    2000,
    4000,
    8000,
    16000,
    32000,
    60000,
    60000,
    60000,
  ]);
  assert.equal(REFRESH.RETRY_MAX_MS, 60_000);
});

Deno.test("due: the earliest of token, KV and leases; 0 when nothing is due", () => {
  assert.equal(dueMs(base, 0), 0);
  assert.equal(dueMs({ ...base, renewAt: 5000, kvAt: 3000 }, 1000), 2000);
  assert.equal(
    dueMs({
      ...base,
      kvAt: 9000,
      reads: [{
        p: "db/creds/x",
        kv: 1,
        lease: { d: 6000, r: true, at: 4000 },
      }],
    }, 1000),
    3000,
  );
  assert.equal(dueMs({ ...base, renewAt: 500 }, 1000), 1, "overdue: at once");
});

Deno.test("state: base64url round trip without padding; garbage refused; too long refused naming the fix", () => {
  const text = encodeState(base);
  assert.match(text, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeState(text), base);
  assert.throws(() => decodeState("not base64!"), /not base64url/);
  assert.throws(
    () => decodeState(encodeState({ ...base, v: 2 as 1 })),
    /version 1/,
  );
  const many = {
    ...base,
    reads: Array.from({ length: 40 }, (_, i) => ({
      p: `secret/data/some/long/path/number/${i}`,
      kv: 2 as const,
      ver: 1,
      keys: [`KEY_${i}_A`, `KEY_${i}_B`],
    })),
  };
  assert.throws(
    () => stateWithinLimit(many),
    (e) => e instanceof ConfigError && /CLOUDTASER_ENV_MAP/.test(e.message),
  );
  assert.equal(stateWithinLimit(base), text);
});

Deno.test("program arguments: the command line up to the wrapper's first argument", () => {
  const enc = (w: string[]) => new TextEncoder().encode(w.join("\0") + "\0");
  assert.deepEqual(
    programArgs(enc(["deno", "run", "-A", "main.ts", "run", "--", "app"]), [
      "run",
      "--",
      "app",
    ]),
    ["deno", "run", "-A", "main.ts"],
  );
  assert.deepEqual(
    programArgs(enc(["/opt/ct/cloudtaser-wrapper", "--", "app"]), [
      "--",
      "app",
    ]),
    ["/opt/ct/cloudtaser-wrapper"],
  );
  assert.throws(
    () => programArgs(enc(["x", "a"]), ["b"]),
    /cannot tell the wrapper's program/,
  );
});
