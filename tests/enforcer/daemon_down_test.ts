/**
 * A registration while the daemon is down cannot happen: its pinned
 * programs keep protecting what registered before, but nobody answers the
 * socket. The wrapper then scores without the enforcer's points, and where
 * CLOUDTASER_MIN_SCORE demands them it refuses to start the app (exit 3)
 * instead of running it unprotected. A restarted daemon (which adopts the
 * pins) lets it start again. Real wrapper, real OpenBao, real enforcer.
 */
import assert from "node:assert/strict";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  type Run,
  secret,
  sharedServer,
  wrapper,
} from "../support/wrapper.ts";
import { Enforcer } from "../support/enforcer.ts";

const { server, stop } = sharedServer();
const DB_PASSWORD = secret("down");

async function env(socket: string, min: number) {
  const bao = await server();
  await put(bao, "secret/data/down/db", { password: DB_PASSWORD });
  return bao.env({
    PATH: "/usr/bin:/bin",
    HOME: "/root",
    CLOUDTASER_SECRET_PATHS: "secret/data/down/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
    CLOUDTASER_ENFORCER_SOCKET: socket,
    CLOUDTASER_MIN_SCORE: String(min),
  });
}

function score(r: Run): number {
  const line = logLines(r).find((l) => "score" in l && "max" in l);
  assert.ok(line, `no score line:\n${r.stderr}`);
  return Number(line.score);
}

Deno.test({
  name:
    "with the daemon killed, a wrapper whose CLOUDTASER_MIN_SCORE needs the enforcer refuses to start; after a restart it starts",
  ignore: Deno.uid() !== 0,
  async fn() {
    const e = await Enforcer.start();
    let e2: Enforcer | undefined;
    try {
      const app = ["--", "/bin/sh", "-c", "echo app-ran"];
      // the score with the enforcer up: what this node can reach
      const up = await wrapper(app, await env(e.socket, 0));
      assert.equal(up.code, 0, up.stderr);
      const full = score(up);
      await e.exit("SIGKILL");
      const down = await wrapper(app, await env(e.socket, full));
      assert.equal(down.code, 3, down.stderr);
      assert.ok(!down.stdout.includes("app-ran"), "the app ran");
      assert.match(
        down.stderr,
        new RegExp(
          `protection score \\d+ is below CLOUDTASER_MIN_SCORE=${full}; ` +
            "missing: .*ebpf_agent_connected",
        ),
      );
      assert.match(down.stderr, /no enforcer daemon answers/);
      e2 = await Enforcer.start({ pins: e.pins });
      assert.equal(e2.ready.adopted, true);
      const again = await wrapper(app, await env(e2.socket, full));
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /app-ran/);
      assertNoSecretInOutput([DB_PASSWORD]);
    } finally {
      await (e2 ?? e).stop();
      await stop();
    }
  },
});
