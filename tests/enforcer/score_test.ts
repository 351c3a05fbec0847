/**
 * The wrapper's score takes the enforcer's real answer: registration over the
 * socket gives ebpf_agent_connected and ebpf_enforce_mode; ebpf_lsm only
 * when the LSM tier runs (on this host the tracepoint fallback runs).
 */
import assert from "node:assert/strict";
import { Enforcer, REPO } from "../support/enforcer.ts";

async function score(env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${REPO}deno.json`,
      `${REPO}src/main.ts`,
      "score",
      "--json",
    ],
    env: { PATH: "/usr/bin:/bin", ...env },
    clearEnv: true,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const s = JSON.parse(new TextDecoder().decode(out.stdout));
  return Object.fromEntries(
    s.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok]),
  ) as Record<string, boolean>;
}

Deno.test("the score reflects the enforcer's answer, per mode and tier", async () => {
  const absent = await score({
    CLOUDTASER_ENFORCER_SOCKET: "/nonexistent/enforcer.sock",
  });
  assert.deepEqual(
    [absent.ebpf_agent_connected, absent.ebpf_enforce_mode, absent.ebpf_lsm],
    [false, false, false],
  );
  for (const mode of ["enforce", "detect"] as const) {
    const e = await Enforcer.start({ mode });
    try {
      const s = await score({ CLOUDTASER_ENFORCER_SOCKET: e.socket });
      const lsm = e.ready.lsm === true;
      assert.deepEqual(
        [s.ebpf_agent_connected, s.ebpf_enforce_mode, s.ebpf_lsm],
        [true, mode === "enforce", lsm],
        `mode ${mode}, ready ${JSON.stringify(e.ready)}`,
      );
    } finally {
      await e.stop();
    }
  }
});
