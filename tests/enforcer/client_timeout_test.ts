/**
 * registerWithEnforcer's deadline (c/shim/enforcer.c, poll): a socket
 * that accepts and never answers ends in `no answer within`, in bounded
 * time, and the registration never throws. Loads no BPF program.
 */
import assert from "node:assert/strict";
import { registerWithEnforcer } from "../../src/enforcer/client.ts";

Deno.test("an enforcer socket that never answers: no answer within the timeout, in bounded time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-enforcer-silent-" });
  const path = `${dir}/enforcer.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c); // never answers
  })();
  try {
    const t0 = performance.now();
    const r = await registerWithEnforcer(path, 200);
    const ms = performance.now() - t0;
    assert.equal(r.connected, false);
    assert.match(r.error ?? "", /no answer within 200 ms/);
    assert.ok(ms >= 199, `gave up after ${ms} ms`);
    assert.ok(ms < 5000, `gave up after ${ms} ms`);
  } finally {
    listener.close();
    for (const c of held) c.close();
    await accepting.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
