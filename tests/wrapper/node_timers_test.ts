/**
 * A start calls neither global setTimeout nor setInterval: in Deno 2.9 they
 * are Node's, and the first call loads Deno's Node timers module, 5-8 ms of
 * CPU per start (src/timers.ts). The real wrapper runs with a preloaded trap
 * that reports every call (tests/wrapper/fixtures/trap_node_timers.ts); a
 * script that calls setTimeout under the same trap is the control.
 */
import assert from "node:assert/strict";
import {
  allOutput,
  assertNoSecretInOutput,
  MAIN,
  put,
  secret,
  sharedServer,
} from "../support/wrapper.ts";

const { server, stop } = sharedServer();
const VALUE = secret("timers");
const ROOT = new URL("../../", import.meta.url).pathname;
const TRAP = new URL("./fixtures/trap_node_timers.ts", import.meta.url)
  .pathname;

async function trapped(
  script: string,
  args: string[],
  env: Record<string, string>,
) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${ROOT}deno.json`,
      "--preload",
      TRAP,
      script,
      ...args,
    ],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const r = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  allOutput.push(r.stdout, r.stderr);
  return r;
}

Deno.test("control: the trap reports a setTimeout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-timers-" });
  try {
    const script = `${dir}/uses_timer.ts`;
    await Deno.writeTextFile(script, "setTimeout(() => {}, 1);\n");
    const r = await trapped(script, [], { PATH: "/usr/bin:/bin" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^NODE_TIMER setTimeout /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run and check call no global setTimeout or setInterval", async () => {
  const bao = await server();
  await put(bao, "secret/data/timers/app", { value: VALUE });
  const env = bao.env({
    PATH: "/usr/bin:/bin",
    CLOUDTASER_SECRET_PATHS: "secret/data/timers/app",
    CLOUDTASER_ENV_MAP: "value=APP_VALUE",
    // No enforcer listens here: registration still runs with its timeout.
    CLOUDTASER_ENFORCER_SOCKET: "/nonexistent/enforcer.sock",
  });
  for (const args of [["check"], ["--", "/bin/true"]]) {
    const r = await trapped(MAIN, args, env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /NODE_TIMER/, `${args.join(" ")}`);
  }
});

Deno.test("node timers: no secret in any output", async () => {
  await stop();
  assertNoSecretInOutput([VALUE]);
});
