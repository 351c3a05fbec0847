/** src/timers.ts: after() without the global Node timers. */
import assert from "node:assert/strict";
import { after, STEP_MS } from "../src/timers.ts";

/** Resolves once `cond()` holds, polling; fails after `ms`. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => AbortSignal.timeout(5).onabort = r);
  }
}

Deno.test("after: fires once, not before its time, never synchronously", async () => {
  let fired = 0;
  const t0 = performance.now();
  let at = 0;
  after(120, () => {
    fired++;
    at = performance.now() - t0;
  });
  assert.equal(fired, 0);
  let zero = 0;
  after(0, () => zero++);
  assert.equal(zero, 0, "after(0) runs later, as setTimeout(fn, 0)");
  await until(() => fired === 1 && zero === 1, 5000);
  assert.ok(at >= 119, `fired after ${at} ms`);
  await new Promise((r) => AbortSignal.timeout(3 * STEP_MS).onabort = r);
  assert.equal(fired, 1);
});

Deno.test("after: a cancelled timer never fires", async () => {
  let fired = false;
  const cancel = after(30, () => fired = true);
  cancel();
  await new Promise((r) => AbortSignal.timeout(30 + 3 * STEP_MS).onabort = r);
  assert.equal(fired, false);
});
