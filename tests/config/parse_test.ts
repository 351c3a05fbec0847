/** The configuration table's kinds and typed getters (src/config/parse.ts). */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/config/parse.ts";

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

Deno.test("list kind: words trimmed, empty entries refused where they are a typo", () => {
  const c = parseConfig({
    CLOUDTASER_SECRET_PATHS: " secret/data/a , kv/b?version=2",
    CLOUDTASER_ENV_PASSTHROUGH: "VAULT_ADDR,, BAO_ADDR ,",
  });
  assert.deepEqual(c.list("CLOUDTASER_SECRET_PATHS"), [
    "secret/data/a",
    "kv/b?version=2",
  ]);
  // A list of names tolerates stray commas: nothing is asked for by them.
  assert.deepEqual(c.list("CLOUDTASER_ENV_PASSTHROUGH"), [
    "VAULT_ADDR",
    "BAO_ADDR",
  ]);
  assert.deepEqual(c.list("CLOUDTASER_ALLOW_DANGEROUS_NAMES"), []);
  assert.deepEqual(problems({ CLOUDTASER_SECRET_PATHS: "a,,b" }), [
    'CLOUDTASER_SECRET_PATHS entry 2 is empty ("a,,b"); list entries ' +
    "separated by single commas",
  ]);
  assert.deepEqual(problems({ CLOUDTASER_ENV_PASSTHROUGH: "" }), [
    "CLOUDTASER_ENV_PASSTHROUGH is set but empty",
  ]);
});

Deno.test("enum kind: the value or the table's default, anything else refused", () => {
  assert.equal(parseConfig({}).enum("VAULT_AUTH_METHOD"), "kubernetes");
  assert.equal(parseConfig({}).enum("CLOUDTASER_DELIVERY"), "env");
  assert.equal(
    parseConfig({ CLOUDTASER_DELIVERY: "auto" }).enum("CLOUDTASER_DELIVERY"),
    "auto",
  );
  assert.deepEqual(problems({ CLOUDTASER_LOG_LEVEL: "loud" }), [
    'CLOUDTASER_LOG_LEVEL="loud": expected one of debug, info, warning, error',
  ]);
});

Deno.test("Config carries the environment it was parsed from, aliases read first", () => {
  const env = { BAO_ADDR: "https://bao:8200", VAULT_ADDR: "https://v:8200" };
  const c = parseConfig(env);
  assert.equal(c.env, env);
  assert.equal(c.string("VAULT_ADDR"), "https://bao:8200");
  assert.equal(c.source("VAULT_ADDR"), "BAO_ADDR");
});
