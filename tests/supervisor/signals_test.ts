/**
 * Signals through the hand-over: forwarded while the app runs, kept when
 * they arrive before it, and a clean signal state for the app.
 */
import assert from "node:assert/strict";
import { CAPTURED_SIGNALS } from "../../ffi/handover.ts";
import { jsonLines, Run, runToEnd, TESTAPP } from "../support/supervisor.ts";

Deno.test("each forwarded signal reaches the app", async () => {
  const run = new Run([TESTAPP, "signals", String(CAPTURED_SIGNALS.length)]);
  try {
    await run.waitStdout(/^ready \d+$/m);
    for (const sig of CAPTURED_SIGNALS) {
      Deno.kill(run.pid, sig);
      await run.waitStdout(new RegExp(`^got ${sig.slice(3)}$`, "m"), 3000);
    }
    const st = await run.status();
    assert.equal(st.code, 0, run.stderr);
    // One info line (what stays resident), no warning or error.
    const said = jsonLines(run.stderr).filter((l) =>
      l.program === "cloudtaser-supervisor"
    );
    assert.deepEqual(said.map((l) => l.level), ["info"], run.stderr);
  } finally {
    await run.close();
  }
});

Deno.test("the app starts with an empty signal mask and no ignored signal", async () => {
  // Deno ignores SIGPIPE and the supervisor blocks everything; exec keeps
  // both, so the supervisor must reset them for the app.
  const r = await runToEnd([TESTAPP, "sleep", "0"]);
  assert.equal(r.status.code, 0, r.stderr);
  assert.match(r.stdout, /^mask 0000000000000000 ignored 0000000000000000$/m);
});

Deno.test("a SIGTERM sent to the wrapper before the hand-over reaches the app", async () => {
  const run = new Run([TESTAPP, "sleep", "20000"], { sleepMs: 1500 });
  try {
    await run.waitStderr(/handover: signals captured/);
    Deno.kill(run.pid, "SIGTERM");
    await run.waitStderr(/handover: pending \[SIGTERM\]/);
    const st = await run.status(8000);
    // The wrapper survived it (no signal of its own); the app died of it.
    assert.equal(st.signal, null);
    assert.equal(st.code, 143, run.stderr);
  } finally {
    await run.close();
  }
});

Deno.test("signals sent during start-up are forwarded in the order they came", async () => {
  const run = new Run([TESTAPP, "sleep", "20000"], { sleepMs: 1500 });
  try {
    await run.waitStderr(/handover: signals captured/);
    // SIGTERM first, SIGUSR1 later: forwarded by number (the mask) SIGUSR1
    // (10) would kill the app first; forwarded from the pipe, SIGTERM does.
    Deno.kill(run.pid, "SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    Deno.kill(run.pid, "SIGUSR1");
    await run.waitStderr(/handover: pending \[SIGTERM,SIGUSR1\]/);
    const st = await run.status(8000);
    assert.equal(st.signal, null);
    assert.equal(st.code, 128 + 15, run.stderr);
  } finally {
    await run.close();
  }
});
