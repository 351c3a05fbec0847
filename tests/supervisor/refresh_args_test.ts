/**
 * The supervisor's refresh arguments (docs/refresh.md "Hand-over"), given
 * by refresh_launch as the wrapper's hand-over would: a bad or missing
 * value refuses the start before the app's exec (exit 125, a message naming
 * the argument); good ones start the app.
 */
import assert from "node:assert/strict";
import { marker } from "../support/supervisor.ts";
import { type LaunchOptions, launchToEnd } from "../support/refresh.ts";

const APP = ["/bin/sh", "-c", "echo APP-RAN"];

async function refused(
  opts: LaunchOptions,
  names: RegExp,
): Promise<void> {
  const secret = marker("args");
  const r = await launchToEnd(APP, {
    app: { DB_PASSWORD: secret },
    token: { VAULT_TOKEN: marker("tok") },
    ...opts,
  });
  assert.equal(r.status.code, 125, `${JSON.stringify(opts)}: ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /APP-RAN/, "the app never ran");
  assert.match(r.stderr, names);
  assert.doesNotMatch(r.stderr + r.stdout, new RegExp(secret));
}

const env = (...more: string[]) => ["--delivery", "env", ...more];

Deno.test("supervisor refresh protocol: each bad refresh argument refuses the start with 125, naming it", async () => {
  const cases: [string[], RegExp][] = [
    [env("--due-ms", "-1"), /--due-ms needs milliseconds/],
    [env("--due-ms", "soon"), /--due-ms needs milliseconds/],
    [env("--due-ms", "99999999999"), /--due-ms needs milliseconds/],
    [
      env("--on-change", "reboot"),
      /--on-change must be restart, none or signal:NAME/,
    ],
    [env("--on-change", "signal:SIGNOPE"), /--on-change must be/],
    [env("--on-change", "signal:SIGKILL"), /--on-change must be/],
    [env("--stop-signal", "SIGFOO"), /--stop-signal needs a signal name/],
    [env("--kill-timeout-ms", "x"), /--kill-timeout-ms needs milliseconds/],
    [
      env("--refresh-timeout-ms", ""),
      /--refresh-timeout-ms needs milliseconds/,
    ],
    [env("--revoke-on-exit", "2"), /--revoke-on-exit must be 0 or 1/],
    [
      env("--revoke-timeout-ms", "1e3"),
      /--revoke-timeout-ms needs milliseconds/,
    ],
    [env("--state", "not base64!"), /--state must be base64url/],
    [env("--state", "a".repeat(5000)), /--state must be base64url/],
    [env("--due-ms"), /--due-ms needs milliseconds|usage/],
    [env("--deno-dir", "relative/dir"), /--deno-dir must be an absolute path/],
  ];
  for (const [args, names] of cases) await refused({ args }, names);
});

Deno.test("supervisor refresh protocol: a refresh argument without the program, its arguments, the token or the config refuses the start", async () => {
  for (const omit of ["program", "program-args", "token", "config"]) {
    await refused(
      { launcher: ["--omit", omit], args: env("--due-ms", "100") },
      new RegExp(`refresh arguments given without --${omit}(-fd)?\\b`),
    );
  }
});

Deno.test("supervisor refresh protocol: an unsealed config memfd, a token fd that is no region, a program that is no file refuse the start", async () => {
  await refused(
    { launcher: ["--unsealed-config"] },
    /--config-fd \d+ is not a sealed memfd/,
  );
  await refused(
    { launcher: ["--omit", "token"], args: env("--token-fd", "0") },
    /--token-fd 0 is not a valid token region/,
  );
  await refused(
    { program: "/usr/bin" },
    /--program-fd \d+ is not a regular file/,
  );
});

Deno.test("supervisor refresh protocol: good refresh arguments start the app, exit code passed through", async () => {
  const r = await launchToEnd(["/bin/sh", "-c", "echo APP-RAN; exit 7"], {
    app: { K: marker("ok") },
    token: { VAULT_TOKEN: marker("tok") },
    args: env(
      "--state",
      "bjA",
      "--due-ms",
      "0",
      "--on-change",
      "signal:SIGHUP",
      "--stop-signal",
      "SIGINT",
      "--kill-timeout-ms",
      "1000",
      "--refresh-timeout-ms",
      "1000",
      "--revoke-on-exit",
      "0",
      "--revoke-timeout-ms",
      "500",
    ),
  });
  assert.equal(r.status.code, 7, r.stderr);
  assert.match(r.stdout, /APP-RAN/);
});
