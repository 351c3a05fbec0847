/**
 * Inputs the wrapper refuses, through the real CLI: each exits with its
 * documented code and a message naming the variable (or path, key, secret)
 * and the problem, never a value. Where the refusal must come before any
 * secret is fetched, VAULT_ADDR points at a peer that counts connections and
 * never answers: it must see none.
 */
import assert from "node:assert/strict";
import { nativePath } from "../../ffi/mod.ts";
import { execArgLimit, stackLimit } from "../../src/delivery/exec_limits.ts";
import { sha256Hex } from "../support/markers.ts";
import {
  assertNoSecretInOutput,
  logLines,
  put,
  type Run,
  secret,
  sharedServer,
  wrapper,
} from "../support/wrapper.ts";
import { silentPeer } from "../support/listeners.ts";

const { server, stop } = sharedServer();
const PASSWORD = secret("refuse");
const secrets = [PASSWORD];

async function baseEnv(extra: Record<string, string> = {}) {
  const bao = await server();
  await put(bao, "secret/data/refuse/db", { password: PASSWORD });
  return bao.env({
    PATH: "/usr/bin:/bin",
    CLOUDTASER_SECRET_PATHS: "secret/data/refuse/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
    CLOUDTASER_ENFORCER_SOCKET: "/nonexistent/enforcer.sock",
    ...extra,
  });
}

function messages(r: Run): string {
  return [...logLines(r).map((l) => String(l.message)), r.stderr].join("\n");
}

/** Runs `args` with `extra` against a silent peer: refused before any fetch. */
async function refusedBeforeFetch(
  args: string[],
  extra: Record<string, string>,
  code: number,
  message: RegExp,
): Promise<Run> {
  const peer = silentPeer();
  try {
    const r = await wrapper(
      args,
      await baseEnv({ VAULT_ADDR: peer.addr, ...extra }),
    );
    const label = `${args.join(" ")} ${JSON.stringify(extra)}`;
    assert.equal(r.code, code, `${label}: ${r.stderr}`);
    assert.match(messages(r), message, label);
    assert.equal(peer.connections(), 0, `${label}: it reached the server`);
    assert.ok(!r.stdout.includes("app-ran"), label);
    return r;
  } finally {
    peer.close();
  }
}

Deno.test("plain http:// VAULT_ADDR is refused unless CLOUDTASER_ALLOW_INSECURE_HTTP opts in", async () => {
  await refusedBeforeFetch(
    ["--", "/bin/echo", "app-ran"],
    { VAULT_ADDR: "http://127.0.0.1:8200" },
    2,
    /VAULT_ADDR="http:\/\/127\.0\.0\.1:8200": plain HTTP sends the Vault token and every secret in clear; use https:\/\/, or set CLOUDTASER_ALLOW_INSECURE_HTTP=true/,
  );
  await refusedBeforeFetch(
    ["check"],
    { BAO_ADDR: "http://vault.example:8200" },
    2,
    /BAO_ADDR="http:\/\/vault\.example:8200": plain HTTP/,
  );
});

Deno.test("with CLOUDTASER_ALLOW_INSECURE_HTTP: it runs over plain HTTP, warns and costs 25 points", async () => {
  const bao = await server();
  await put(bao, "secret/data/refuse/db", { password: PASSWORD });
  // A plain-TCP front for the TLS-only test server (AppRole: no client
  // certificate needed, so the proxy needs none either).
  const front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ca = Deno.readTextFileSync(bao.caCert);
  const pipes: Promise<unknown>[] = [];
  (async () => {
    for await (const c of front) {
      const up = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: bao.port,
        caCerts: [ca],
      });
      pipes.push(
        c.readable.pipeTo(up.writable).catch(() => {}),
        up.readable.pipeTo(c.writable).catch(() => {}),
      );
    }
  })().catch(() => {});
  try {
    const env = {
      PATH: "/usr/bin:/bin",
      VAULT_ADDR: `http://127.0.0.1:${(front.addr as Deno.NetAddr).port}`,
      VAULT_AUTH_METHOD: "approle",
      VAULT_AUTH_ROLE: bao.approle.roleId,
      VAULT_APPROLE_SECRET_ID_FILE: bao.approle.secretIdFile,
      CLOUDTASER_SECRET_PATHS: "secret/data/refuse/db",
      CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
      CLOUDTASER_ALLOW_INSECURE_HTTP: "true",
      CLOUDTASER_ENFORCER_SOCKET: "/nonexistent/enforcer.sock",
    };
    const r = await wrapper([
      "--",
      "/bin/sh",
      "-c",
      'printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64',
    ], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), await sha256Hex(PASSWORD));
    const lines = logLines(r);
    assert.ok(
      lines.some((l) =>
        l.level === "warning" &&
        /plain HTTP .* in clear/.test(String(l.message))
      ),
      r.stderr,
    );
    const score = lines.find((l) =>
      String(l.message).startsWith("protection score")
    )!;
    assert.ok((score.missing as string[]).includes("tls_transport"));
    const c = await wrapper(["check"], env);
    assert.equal(c.code, 0, c.stderr);
    assert.match(
      c.stdout,
      /MISS tls_transport\s+-25\/0\s+VAULT_ADDR is plain http/,
    );
  } finally {
    front.close();
  }
});

Deno.test("a secret named or mapped to a name that controls the app is refused, naming it and its source", async () => {
  for (
    const [extra, name, source] of [
      [
        { CLOUDTASER_ENV_MAP: "password=LD_PRELOAD" },
        "LD_PRELOAD",
        /CLOUDTASER_ENV_MAP \(secret\/data\/refuse\/db#password\)/,
      ],
      [
        { CLOUDTASER_ENV_MAP: "password=PATH" },
        "PATH",
        /CLOUDTASER_ENV_MAP \(secret\/data\/refuse\/db#password\)/,
      ],
      [
        { NODE_OPTIONS: "vault:secret/data/refuse/db#password" },
        "NODE_OPTIONS",
        /env NODE_OPTIONS=vault:secret\/data\/refuse\/db#password/,
      ],
      [
        { BASH_ENV: "vault:secret/data/refuse/db#password" },
        "BASH_ENV",
        /env BASH_ENV=vault:/,
      ],
      [
        { CLOUDTASER_ENV_MAP: "password=GCONV_PATH" },
        "GCONV_PATH",
        /CLOUDTASER_ENV_MAP/,
      ],
      [
        {
          CLOUDTASER_ENV_MAP: "password=PYTHONSTARTUP",
          CLOUDTASER_ALLOW_DANGEROUS_NAMES: "PERL5OPT",
        },
        "PYTHONSTARTUP",
        /CLOUDTASER_ENV_MAP/,
      ],
    ] as Array<[Record<string, string>, string, RegExp]>
  ) {
    const r = await refusedBeforeFetch(
      ["--", "/bin/echo", "app-ran"],
      extra,
      2,
      new RegExp(
        `secret name ${name} \\(from .*\\) would control how the app is loaded or interpreted.*CLOUDTASER_ALLOW_DANGEROUS_NAMES`,
      ),
    );
    assert.match(messages(r), source, name);
  }
});

Deno.test("a key imported under its own name is checked too; CLOUDTASER_ALLOW_DANGEROUS_NAMES lets a named one through", async () => {
  const bao = await server();
  await put(bao, "secret/data/refuse/all", {
    PYTHONSTARTUP: PASSWORD,
    OK: "1",
  });
  const env = await baseEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/refuse/all",
    CLOUDTASER_ENV_MAP: "",
  });
  delete env.CLOUDTASER_ENV_MAP;
  const r = await wrapper(["--", "/bin/echo", "app-ran"], env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    messages(r),
    /secret name PYTHONSTARTUP \(from secret\/data\/refuse\/all key PYTHONSTARTUP, imported by CLOUDTASER_SECRET_PATHS/,
  );
  assert.ok(!r.stdout.includes("app-ran"));
  // Allowed by name: delivered.
  const allowed = await wrapper([
    "--",
    "/bin/sh",
    "-c",
    'printf %s "$PYTHONSTARTUP" | sha256sum | cut -c1-64',
  ], { ...env, CLOUDTASER_ALLOW_DANGEROUS_NAMES: "EDITOR, PYTHONSTARTUP" });
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(allowed.stdout.trim(), await sha256Hex(PASSWORD));
});

Deno.test("client certificate and key that do not match, or files that are not PEM: exit 2 naming the variable and the problem", async () => {
  const bao = await server();
  const dir = await Deno.makeTempDir({ dir: bao.dir });
  const text = `${dir}/notes.txt`;
  await Deno.writeTextFile(text, "not a certificate\n");
  const badDer = `${dir}/bad.pem`;
  await Deno.writeTextFile(
    badDer,
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  );
  const cases: Array<[Record<string, string>, RegExp]> = [
    [
      { VAULT_CLIENT_KEY: bao.untrustedKey },
      /VAULT_CLIENT_CERT=\S+client\.pem and VAULT_CLIENT_KEY=\S+untrusted\.key do not match: the key is not the certificate's private key/,
    ],
    [
      { VAULT_CLIENT_KEY: bao.clientCert },
      /VAULT_CLIENT_KEY=\S+client\.pem is not a PEM private key/,
    ],
    [
      { VAULT_CLIENT_CERT: text },
      /VAULT_CLIENT_CERT=\S+notes\.txt is not a PEM certificate file/,
    ],
    [
      { VAULT_CLIENT_CERT: bao.clientKey },
      /VAULT_CLIENT_CERT=\S+client\.key is not a PEM certificate file/,
    ],
    [
      { VAULT_CACERT: text },
      /VAULT_CACERT=\S+notes\.txt is not a PEM certificate file/,
    ],
    [
      { VAULT_CACERT: badDer },
      /VAULT_CACERT=\S+bad\.pem holds a certificate that cannot be parsed/,
    ],
  ];
  for (const [extra, message] of cases) {
    for (const args of [["--", "/bin/echo", "app-ran"], ["check"]]) {
      await refusedBeforeFetch(args, extra, 2, message);
    }
  }
});

Deno.test("a 1 MB secret with env delivery is refused before the hand-over, naming it; fd delivery carries it", async () => {
  const bao = await server();
  const big = "b".repeat(1 << 20);
  await put(bao, "secret/data/refuse/big", { blob: big });
  const env = await baseEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/refuse/big",
    CLOUDTASER_ENV_MAP: "blob=BIG_BLOB",
  });
  const r = await wrapper(["--", "/bin/echo", "app-ran"], env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    messages(r),
    /secret BIG_BLOB is 1048576 bytes: .* exceeds the kernel's 131072-byte limit for one string \(MAX_ARG_STRLEN\).*CLOUDTASER_DELIVERY=fd .* or interposer/,
  );
  assert.ok(!messages(r).includes('"starting'), "it got to the hand-over");
  assert.ok(!r.stdout.includes("app-ran"));
  const fd = await wrapper(
    ["--", nativePath("cloudtaser_sdk_example"), "BIG_BLOB"],
    { ...env, CLOUDTASER_DELIVERY: "fd" },
  );
  assert.equal(fd.code, 0, fd.stderr);
  assert.match(fd.stdout, /^get BIG_BLOB len=1048576 /m);
});

Deno.test("secrets that together pass the exec limit are refused, naming the largest", async () => {
  const bao = await server();
  // Each under MAX_ARG_STRLEN; together over this process's exec limit
  // (the wrapper inherits the same RLIMIT_STACK).
  const each = 100_000;
  const n = Math.ceil(execArgLimit(stackLimit()) / each) + 1;
  const data: Record<string, string> = {};
  for (let i = 0; i < n; i++) data[`PART_${i}`] = "p".repeat(each + i);
  await put(bao, "secret/data/refuse/parts", data);
  const env = await baseEnv({
    CLOUDTASER_SECRET_PATHS: "secret/data/refuse/parts",
  });
  delete env.CLOUDTASER_ENV_MAP;
  const r = await wrapper(["--", "/bin/echo", "app-ran"], env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    messages(r),
    new RegExp(
      `the app's arguments and environment would take \\d+ bytes, over the kernel's exec limit of ${
        execArgLimit(stackLimit())
      } bytes .* the largest secrets: PART_${n - 1} \\(${
        each + n - 1
      } bytes\\)`,
    ),
  );
});

Deno.test("the app's command is checked before any secret is fetched: 127 not found, 126 not executable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-cmd-" });
  try {
    const plain = `${dir}/not-executable`;
    await Deno.writeTextFile(plain, "#!/bin/sh\necho app-ran\n");
    await Deno.chmod(plain, 0o644);
    await refusedBeforeFetch(
      ["check", "--", "/no/such/app"],
      {},
      127,
      /command \/no\/such\/app not found/,
    );
    await refusedBeforeFetch(
      ["--", "/no/such/app"],
      {},
      127,
      /command \/no\/such\/app not found/,
    );
    await refusedBeforeFetch(
      ["--", dir],
      {},
      126,
      new RegExp(`command ${dir} is a directory`),
    );
    await refusedBeforeFetch(["check", "--", dir], {}, 126, /is a directory/);
    await refusedBeforeFetch(
      ["--", plain],
      {},
      126,
      /not-executable is not executable by this user \(EACCES\)/,
    );
    await refusedBeforeFetch(
      ["--", "no-such-tool-xyz"],
      {},
      127,
      /command no-such-tool-xyz not found in PATH=\/usr\/bin:\/bin$/m,
    );
    // A directory of that name on PATH is remembered, as execvp does.
    await refusedBeforeFetch(
      ["--", "ct-cmd-dir"],
      { PATH: `${dir}:/usr/bin:/bin` },
      127,
      /not found/,
    );
    await Deno.mkdir(`${dir}/ct-cmd-dir`);
    await refusedBeforeFetch(
      ["--", "ct-cmd-dir"],
      { PATH: `${dir}:/usr/bin:/bin` },
      126,
      /command ct-cmd-dir cannot be run: .*ct-cmd-dir is a directory/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a misspelled subcommand fails before any fetch and says so; help prints the usage", async () => {
  for (const word of ["runn", "chek", "scroe"]) {
    await refusedBeforeFetch(
      [word],
      {},
      127,
      new RegExp(
        `command ${word} not found in PATH=.*; is it a misspelled subcommand \\(run, check, score, install, version, help\\)\\?`,
      ),
    );
  }
  const help = await wrapper(["help"], { PATH: "/usr/bin:/bin" });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage:/m);
  assert.match(help.stdout, /VAULT_ADDR/);
});

Deno.test("CLOUDTASER_SECRET_PATHS with an empty entry is refused, naming the entry", async () => {
  await refusedBeforeFetch(
    ["--", "/bin/echo", "app-ran"],
    { CLOUDTASER_SECRET_PATHS: "," },
    2,
    /CLOUDTASER_SECRET_PATHS entry 1 is empty \(","\)/,
  );
  await refusedBeforeFetch(
    ["check"],
    { CLOUDTASER_SECRET_PATHS: "secret/data/a,,secret/data/b" },
    2,
    /CLOUDTASER_SECRET_PATHS entry 2 is empty/,
  );
  await refusedBeforeFetch(
    ["--", "/bin/echo", "app-ran"],
    { CLOUDTASER_SECRET_PATHS: "secret/data/a," },
    2,
    /CLOUDTASER_SECRET_PATHS entry 2 is empty/,
  );
});

Deno.test("VAULT_CLIENT_TIMEOUT beyond what a timer can wait (597h), or zero, is refused at once; 596h works", async () => {
  const t0 = performance.now();
  await refusedBeforeFetch(
    ["--", "/bin/echo", "app-ran"],
    { VAULT_CLIENT_TIMEOUT: "597h" },
    2,
    /VAULT_CLIENT_TIMEOUT="597h": at most 2147483647 ms \(596h31m23s/,
  );
  assert.ok(performance.now() - t0 < 10_000);
  await refusedBeforeFetch(
    ["check"],
    { BAO_CLIENT_TIMEOUT: "0s" },
    2,
    /BAO_CLIENT_TIMEOUT="0s": must be at least 1ms/,
  );
  const ok = await wrapper(
    ["check"],
    await baseEnv({ VAULT_CLIENT_TIMEOUT: "596h" }),
  );
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("score --bogus names the option in a balanced message", async () => {
  const r = await wrapper(["score", "--bogus"], { PATH: "/usr/bin:/bin" });
  assert.equal(r.code, 2);
  const line = r.stderr.trim();
  assert.match(line, /unknown option --bogus for score/);
  assert.equal((line.match(/'/g) ?? []).length % 2, 0, line);
  assert.equal((line.match(/"/g) ?? []).length % 2, 0, line);
});

Deno.test("refusals: no secret in any output", async () => {
  assertNoSecretInOutput(secrets);
  await stop();
});
