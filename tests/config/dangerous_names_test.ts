/** The names a secret may not take unless allowed, and the allow list. */
import assert from "node:assert/strict";
import {
  dangerousNameProblem,
  isDangerousName,
} from "../../src/config/dangerous_names.ts";
import { parseConfig } from "../../src/config/parse.ts";

Deno.test("loader, shell and interpreter names are dangerous; ordinary secret names are not", () => {
  for (
    const name of [
      "LD_PRELOAD",
      "LD_LIBRARY_PATH",
      "LD_AUDIT",
      "GCONV_PATH",
      "GLIBC_TUNABLES",
      "MALLOC_TRACE",
      "PATH",
      "BASH_ENV",
      "ENV",
      "IFS",
      "BASH_FUNC_x%%",
      "NODE_OPTIONS",
      "PYTHONSTARTUP",
      "PYTHONPATH",
      "PYTHONWARNINGS",
      "PERL5OPT",
      "PERL5LIB",
      "RUBYOPT",
      "JAVA_TOOL_OPTIONS",
      "_JAVA_OPTIONS",
      "DOTNET_STARTUP_HOOKS",
      "CORECLR_PROFILER_PATH",
      "LUA_INIT",
      "OPENSSL_CONF",
      "GIT_SSH_COMMAND",
      "GIT_CONFIG_COUNT",
      "CLOUDTASER_SECRET_FD",
    ]
  ) assert.ok(isDangerousName(name), name);
  for (
    const name of [
      "DB_PASSWORD",
      "API_KEY",
      "NODE_ENV",
      "HTTPS_PROXY",
      "GITHUB_TOKEN",
      "PATHS",
      "LDAP_PASSWORD",
      "VAULT_TOKEN",
    ]
  ) assert.ok(!isDangerousName(name), name);
});

Deno.test("the allow list lets exactly the names it lists through", () => {
  const allowed = new Set(
    parseConfig({ CLOUDTASER_ALLOW_DANGEROUS_NAMES: " PATH , NODE_OPTIONS,," })
      .list("CLOUDTASER_ALLOW_DANGEROUS_NAMES"),
  );
  assert.deepEqual([...allowed], ["PATH", "NODE_OPTIONS"]);
  assert.equal(dangerousNameProblem("PATH", "x", allowed), undefined);
  assert.equal(dangerousNameProblem("DB_PASSWORD", "x", new Set()), undefined);
  const why = dangerousNameProblem(
    "LD_PRELOAD",
    "env LD_PRELOAD=vault:a#b",
    allowed,
  );
  assert.match(
    why!,
    /^secret name LD_PRELOAD \(from env LD_PRELOAD=vault:a#b\) would control .* CLOUDTASER_ALLOW_DANGEROUS_NAMES$/,
  );
});
