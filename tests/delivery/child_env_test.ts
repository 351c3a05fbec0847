import assert from "node:assert/strict";
import { buildChildEnv, ChildEnvError } from "../../src/delivery/child_env.ts";

const env = {
  PATH: "/usr/bin",
  HOME: "/root",
  VAULT_ADDR: "https://vault:8200",
  VAULT_TOKEN: "hvs.not-for-the-app",
  BAO_ADDR: "https://bao:8200",
  CLOUDTASER_SECRET_PATHS: "secret/data/app",
  CLOUDTASER_LOG_LEVEL: "debug",
  DB_PASSWORD: "vault:secret/data/app#password",
  API_KEY: "placeholder that the secret replaces",
  LD_PRELOAD: "/lib/libjemalloc.so",
};

Deno.test("env delivery: configuration, references and secret names are dropped", () => {
  const r = buildChildEnv({
    env,
    secretKeys: ["DB_PASSWORD", "API_KEY"],
    delivery: "env",
  });
  assert.deepEqual(r.entries, [
    "HOME=/root",
    "PATH=/usr/bin",
    "LD_PRELOAD=/lib/libjemalloc.so",
  ]);
  assert.ok(
    r.dropped.includes("VAULT_TOKEN") && r.dropped.includes("DB_PASSWORD"),
  );
});

Deno.test("passthrough keeps the named configuration, never a credential", () => {
  const r = buildChildEnv({
    env,
    secretKeys: [],
    delivery: "env",
    passthrough: ["VAULT_ADDR", "CLOUDTASER_LOG_LEVEL"],
  });
  assert.ok(r.entries.includes("VAULT_ADDR=https://vault:8200"));
  assert.ok(r.entries.includes("CLOUDTASER_LOG_LEVEL=debug"));
  assert.ok(!r.entries.some((e) => e.startsWith("BAO_ADDR=")));
  assert.throws(
    () =>
      buildChildEnv({
        env,
        secretKeys: [],
        delivery: "env",
        passthrough: ["VAULT_TOKEN"],
      }),
    (e: unknown) =>
      e instanceof ChildEnvError && /VAULT_TOKEN, a credential/.test(e.message),
  );
});

Deno.test("interposer delivery prepends the interposer to LD_PRELOAD (the hand-over adds the region fd)", () => {
  const r = buildChildEnv({
    env,
    secretKeys: ["DB_PASSWORD"],
    delivery: "interposer",
    interposerPath: "/cloudtaser/libcloudtaser_interposer.so",
  });
  assert.ok(!r.entries.some((e) => e.startsWith("CLOUDTASER_SECRET_FD=")));
  assert.ok(
    r.entries.includes(
      "LD_PRELOAD=/cloudtaser/libcloudtaser_interposer.so:/lib/libjemalloc.so",
    ),
  );
  assert.equal(r.entries.filter((e) => e.startsWith("LD_PRELOAD=")).length, 1);
});

Deno.test("fd delivery adds nothing (the hand-over adds the region fd)", () => {
  const r = buildChildEnv({
    env: { PATH: "/bin" },
    secretKeys: [],
    delivery: "fd",
  });
  assert.deepEqual(r.entries, ["PATH=/bin"]);
});

Deno.test("a CLOUDTASER_SECRET_FD from outside never reaches the child", () => {
  const r = buildChildEnv({
    env: { CLOUDTASER_SECRET_FD: "9", PATH: "/bin" },
    secretKeys: [],
    delivery: "env",
    passthrough: ["CLOUDTASER_SECRET_FD"],
  });
  assert.deepEqual(r.entries, ["PATH=/bin"]);
});
