/**
 * The refresh settings of the table (src/config/table.ts) and the policy
 * read from them (src/refresh/policy.ts): invalid values refuse the start
 * naming the variable; signal:NAME is refused with env delivery.
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/config/parse.ts";
import {
  checkOnChange,
  policyArgs,
  refreshPolicy,
  residentNeeded,
} from "../../src/refresh/policy.ts";

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

Deno.test("refresh settings: defaults of docs/refresh.md, and no resident token without an interval or a lease", () => {
  const p = refreshPolicy(parseConfig({}));
  assert.deepEqual(p, {
    intervalMs: 0,
    onChange: "restart",
    stopSignal: "SIGTERM",
    killTimeoutMs: 30_000,
    refreshTimeoutMs: 30_000,
    revokeOnExit: true,
    revokeTimeoutMs: 5_000,
    splayMs: 0,
  });
  assert.equal(residentNeeded(p, 0), false);
  assert.equal(residentNeeded(p, 1), true);
  const q = refreshPolicy(
    parseConfig({ CLOUDTASER_REFRESH_INTERVAL: "5m" }),
  );
  assert.equal(residentNeeded(q, 0), true);
  assert.equal(q.splayMs, 30_000, "10 % of the interval");
  assert.equal(
    refreshPolicy(parseConfig({ CLOUDTASER_REFRESH_INTERVAL: "1h" })).splayMs,
    60_000,
    "at most 60 s",
  );
  assert.equal(
    refreshPolicy(parseConfig({
      CLOUDTASER_REFRESH_INTERVAL: "1h",
      CLOUDTASER_CHANGE_SPLAY: "0",
    })).splayMs,
    0,
  );
});

Deno.test("refresh settings: invalid values are refused, each naming its variable", () => {
  assert.deepEqual(
    problems({
      CLOUDTASER_REFRESH_INTERVAL: "soon",
      CLOUDTASER_ON_CHANGE: "reload",
      CLOUDTASER_STOP_SIGNAL: "SIGKILL",
      CLOUDTASER_KILL_TIMEOUT: "0",
      CLOUDTASER_REFRESH_TIMEOUT: "-1s",
      CLOUDTASER_REVOKE_ON_EXIT: "maybe",
      CLOUDTASER_REVOKE_TIMEOUT: "",
      CLOUDTASER_CHANGE_SPLAY: "x",
    }).map((p) => p.split(/[= ]/)[0]),
    [
      "CLOUDTASER_REFRESH_INTERVAL",
      "CLOUDTASER_ON_CHANGE",
      "CLOUDTASER_STOP_SIGNAL",
      "CLOUDTASER_KILL_TIMEOUT",
      "CLOUDTASER_REFRESH_TIMEOUT",
      "CLOUDTASER_REVOKE_ON_EXIT",
      "CLOUDTASER_REVOKE_TIMEOUT",
      "CLOUDTASER_CHANGE_SPLAY",
    ],
  );
  assert.match(
    problems({ CLOUDTASER_ON_CHANGE: "signal:SIGKILL" })[0],
    /expected one of restart, none, signal:SIGTERM/,
  );
});

Deno.test("signal:NAME is refused with env delivery (env cannot change in place), accepted with interposer and fd", () => {
  const p = refreshPolicy(
    parseConfig({ CLOUDTASER_ON_CHANGE: "signal:SIGHUP" }),
  );
  assert.throws(
    () => checkOnChange(p, "env"),
    (e) =>
      e instanceof ConfigError &&
      /CLOUDTASER_ON_CHANGE=signal:SIGHUP: env delivery/.test(e.message),
  );
  checkOnChange(p, "interposer");
  checkOnChange(p, "fd");
  checkOnChange(refreshPolicy(parseConfig({})), "env");
});

Deno.test("the supervisor's policy arguments (docs/refresh.md Hand-over)", () => {
  assert.deepEqual(
    policyArgs(refreshPolicy(parseConfig({
      CLOUDTASER_ON_CHANGE: "signal:SIGUSR1",
      CLOUDTASER_STOP_SIGNAL: "SIGINT",
      CLOUDTASER_KILL_TIMEOUT: "2s",
      CLOUDTASER_REVOKE_ON_EXIT: "false",
    }))),
    [
      "--on-change",
      "signal:SIGUSR1",
      "--stop-signal",
      "SIGINT",
      "--kill-timeout-ms",
      "2000",
      "--refresh-timeout-ms",
      "30000",
      "--revoke-on-exit",
      "0",
      "--revoke-timeout-ms",
      "5000",
    ],
  );
});
