/**
 * The wrapper end to end: real OpenBao over mTLS, the real supervisor, real
 * apps. The supervisor's own behaviours (each signal, reaping, PID 1) are
 * tested in tests/supervisor/; here the whole chain is.
 */
import assert from "node:assert/strict";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  secret,
  sharedServer,
  wrapper,
  wrapperArgs,
} from "../support/wrapper.ts";
import { sha256Hex } from "../support/markers.ts";

const { server, stop } = sharedServer();
const DB_PASSWORD = secret("db");
const API_KEY = secret("api");
const secrets = [DB_PASSWORD, API_KEY];

async function baseEnv(extra: Record<string, string> = {}) {
  const bao = await server();
  await put(bao, "secret/data/app/db", { password: DB_PASSWORD, user: "app" });
  await put(bao, "secret/data/app/api", { key: API_KEY });
  return bao.env({
    PATH: "/usr/bin:/bin",
    HOME: "/root",
    KEEP_ME: "plain config",
    CLOUDTASER_SECRET_PATHS: "secret/data/app/db,secret/data/app/api",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD,user=DB_USER;key=API_KEY",
    ...extra,
  });
}

Deno.test("env delivery: the app's environment is exactly the non-config env plus the secrets", async () => {
  const env = await baseEnv();
  // The app prints names and value hashes, never values.
  const script = `env | cut -d= -f1 | sort | tr '\\n' ' '; echo;
    printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64; printf %s "$API_KEY" | sha256sum | cut -c1-64`;
  const r = await wrapper(["--", "/bin/sh", "-c", script], env);
  assert.equal(r.code, 0, r.stderr);
  const [names, dbHash, apiHash] = r.stdout.trim().split("\n");
  // PWD and SHLVL are the shell's own.
  assert.deepEqual(
    names.trim().split(" ").filter((n) => n !== "PWD" && n !== "SHLVL"),
    ["API_KEY", "DB_PASSWORD", "DB_USER", "HOME", "KEEP_ME", "PATH"],
  );
  assert.equal(dbHash, await sha256Hex(DB_PASSWORD));
  assert.equal(apiHash, await sha256Hex(API_KEY));
});

Deno.test("vault: references alone, and mixed with CLOUDTASER_SECRET_PATHS, through the real wrapper", async () => {
  const bao = await server();
  await put(bao, "secret/data/app/db", { password: DB_PASSWORD, user: "app" });
  await put(bao, "secret/data/app/api", { key: API_KEY });
  const script =
    `printf '%s %s %s\\n' "$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64)" \
    "$(printf %s "$API_KEY" | sha256sum | cut -c1-64)" "\${DB_USER:-unset}"`;
  const configs: Array<[Record<string, string>, string]> = [
    [{
      DB_PASSWORD: "vault:secret/data/app/db#password",
      API_KEY: "vault:secret/data/app/api#key",
    }, "unset"],
    [{
      DB_PASSWORD: "vault:secret/data/app/db#password",
      CLOUDTASER_SECRET_PATHS: "secret/data/app/api,secret/data/app/db",
      CLOUDTASER_ENV_MAP: "key=API_KEY;user=DB_USER",
    }, "app"],
  ];
  for (const [extra, user] of configs) {
    const env = bao.env({ PATH: "/usr/bin:/bin", ...extra });
    const r = await wrapper(["--", "/bin/sh", "-c", script], env);
    assert.equal(r.code, 0, `${JSON.stringify(extra)}: ${r.stderr}`);
    assert.equal(
      r.stdout.trim(),
      `${await sha256Hex(DB_PASSWORD)} ${await sha256Hex(API_KEY)} ${user}`,
    );
    assert.ok(
      !logLines(r).some((l) => l.level === "warning" || l.level === "error"),
      r.stderr,
    );
  }
});

Deno.test("passthrough keeps a named config variable; the wrapper's environ never holds a secret", async () => {
  const env = await baseEnv({ CLOUDTASER_ENV_PASSTHROUGH: "VAULT_ADDR" });
  const script = `printenv VAULT_ADDR >/dev/null && echo passthrough-ok;
    for v in "$DB_PASSWORD" "$API_KEY"; do tr '\\0' '\\n' </proc/$PPID/environ | grep -cF -- "$v"; done;
    tr '\\0' '\\n' </proc/$PPID/environ | grep -c '^VAULT_CLIENT_KEY=' ; true`;
  const r = await wrapper(["--", "/bin/sh", "-c", script], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), [
    "passthrough-ok",
    "0",
    "0",
    "0",
  ]);
});

Deno.test("the app's exit code, 128+N for a signal, and 127 for a missing command pass through", async () => {
  const env = await baseEnv();
  assert.equal(
    (await wrapper(["--", "/bin/sh", "-c", "exit 42"], env)).code,
    42,
  );
  assert.equal(
    (await wrapper(["--", "/bin/sh", "-c", "kill -TERM $$"], env)).code,
    143,
  );
  const missing = await wrapper(["--", "/no/such/app"], env);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /\/no\/such\/app/);
});

Deno.test("stdin reaches the app", async () => {
  const env = await baseEnv();
  const r = await wrapper(
    ["--", "/bin/sh", "-c", "read line; echo got:$line"],
    env,
    "hello from stdin\n",
  );
  assert.equal(r.stdout.trim(), "got:hello from stdin");
});

Deno.test("SIGTERM to the running wrapper reaches the app", async () => {
  const env = await baseEnv();
  const child = new Deno.Command(Deno.execPath(), {
    args: wrapperArgs([
      "--",
      "/bin/sh",
      "-c",
      'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done',
    ]),
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready")) {
    const r = await reader.read();
    if (r.done) break;
    out += r.value;
  }
  child.kill("SIGTERM");
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    out += r.value;
  }
  const st = await child.status;
  await child.stderr.cancel();
  assert.match(out, /got-term/);
  assert.equal(st.code, 7);
});

Deno.test("SIGTERM during start-up stops the start: the app never runs", async () => {
  const bao = await server();
  // A peer that accepts TLS-less TCP and never answers keeps the fetch waiting.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const c of silent) conns.push(c);
  })().catch(() => {});
  try {
    const env = bao.env({
      PATH: "/usr/bin:/bin",
      VAULT_ADDR: `https://127.0.0.1:${(silent.addr as Deno.NetAddr).port}`,
      VAULT_CLIENT_TIMEOUT: "30s",
      CLOUDTASER_SECRET_PATHS: "secret/data/app/db",
    });
    const t0 = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: wrapperArgs(["--", "/bin/sh", "-c", "echo app-ran"]),
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Wait until it has connected (it is inside the fetch), then signal.
    while (conns.length === 0 && performance.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGTERM");
    const out = await child.output();
    const elapsed = performance.now() - t0;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 143, stderr);
    assert.ok(!new TextDecoder().decode(out.stdout).includes("app-ran"));
    assert.match(stderr, /SIGTERM during start-up: the app was not started/);
    assert.ok(elapsed < 10_000, `stopping took ${elapsed} ms`);
  } finally {
    silent.close();
    for (const c of conns) c.close();
  }
});

Deno.test("CLOUDTASER_MIN_SCORE above the node's score refuses to start, naming the missing checks", async () => {
  const env = await baseEnv({ CLOUDTASER_MIN_SCORE: "125" });
  const r = await wrapper(["--", "/bin/sh", "-c", "echo app-ran"], env);
  assert.equal(r.code, 3);
  assert.ok(!r.stdout.includes("app-ran"));
  assert.match(
    r.stderr,
    /protection score \d+ is below CLOUDTASER_MIN_SCORE=125; missing: .*ebpf_agent_connected/,
  );
});

Deno.test("explicit interposer delivery for a static binary refuses to start", async () => {
  const env = await baseEnv({ CLOUDTASER_DELIVERY: "interposer" });
  const staticApp =
    new URL("../../build/interposer_probe_static", import.meta.url).pathname;
  const r = await wrapper(["--", staticApp], env);
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    /CLOUDTASER_DELIVERY=interposer cannot work: .*statically linked/,
  );
});

Deno.test("the app image's OpenSSL configuration never reaches the wrapper: OPENSSL_CONF loading a provider changes nothing", async () => {
  // The wrapper runs in the app's container: an openssl.cnf there (or
  // OPENSSL_CONF) must not choose its protocols or load a module into it.
  // With config_diagnostics on, a config that is read fails on the missing
  // provider module (the shim's OpenSSL would refuse to start); it is not
  // read (OPENSSL_INIT_NO_LOAD_CONFIG, c/shim/http.c).
  const dir = await Deno.makeTempDir({ prefix: "ct-openssl-cnf-" });
  try {
    await Deno.writeTextFile(
      `${dir}/openssl.cnf`,
      "config_diagnostics = 1\nopenssl_conf = init\n[init]\n" +
        "providers = providers\n[providers]\nevil = evil\n[evil]\n" +
        `module = ${dir}/evil-provider.so\nactivate = 1\n`,
    );
    const env = await baseEnv({ OPENSSL_CONF: `${dir}/openssl.cnf` });
    const r = await wrapper(
      ["--", "/bin/sh", "-c", 'printf %s "$DB_PASSWORD" | sha256sum'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.slice(0, 64), await sha256Hex(DB_PASSWORD));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one structured score line at start, and no secret in any output", async () => {
  const env = await baseEnv();
  const r = await wrapper(["--", "/bin/true"], env);
  const lines = logLines(r);
  const score = lines.filter((l) =>
    String(l.message).startsWith("protection score")
  );
  assert.equal(score.length, 1);
  assert.equal(score[0].program, "cloudtaser-wrapper");
  assert.ok(typeof score[0].pid === "number");
  assertNoSecretInOutput(secrets);
  await stop();
});
