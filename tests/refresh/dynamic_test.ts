/**
 * Dynamic secrets end to end, with real parts: PostgreSQL (a cluster of the
 * test's own), OpenBao's database engine with a 6 s default TTL and a 20 s
 * max TTL, the wrapper, the supervisor and its refresh processes. The app
 * logs in to PostgreSQL with its credentials; the lease is renewed (the
 * role is still valid past 6 s); past max TTL the app gets new credentials
 * (restart, env delivery) and the old role disappears from pg_roles; at
 * exit the lease is revoked and the role is gone.
 */
import assert from "node:assert/strict";
import type { OpenBao } from "../support/openbao/server.ts";
import { startOpenBao } from "../support/openbao/server.ts";
import { startPostgres } from "../support/postgres.ts";
import { run } from "../support/running.ts";
import { assertNoSecretInOutput, wrapper } from "../support/wrapper.ts";

async function must(bao: OpenBao, method: string, path: string, body: unknown) {
  const r = await bao.api(method, path, body);
  assert.ok(r.status < 300, `${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r;
}

Deno.test("dynamic: PostgreSQL credentials are renewed, replaced past max_ttl (old role dropped), revoked at exit", async () => {
  const pg = await startPostgres();
  const bao = await startOpenBao();
  try {
    await must(bao, "POST", "sys/mounts/database", { type: "database" });
    await must(bao, "POST", "database/config/pg", {
      plugin_name: "postgresql-database-plugin",
      connection_url:
        `postgresql://{{username}}:{{password}}@127.0.0.1:${pg.port}/postgres?sslmode=disable`,
      username: pg.admin.user,
      password: pg.admin.password,
      allowed_roles: "app",
    });
    await must(bao, "POST", "database/roles/app", {
      db_name: "pg",
      creation_statements: [
        `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
      ],
      default_ttl: "6s",
      max_ttl: "20s",
    });
    const policy = (await must(bao, "GET", "sys/policies/acl/app", undefined))
      .json.data.policy as string;
    await must(bao, "PUT", "sys/policies/acl/app", {
      policy: policy + `
path "database/creds/app" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
`,
    });
    const roles = async () =>
      (await pg.query("select rolname from pg_roles where rolname like 'v-%'"))
        .sort();
    // Logs in every 300 ms; prints the role it got (never the password).
    const app = `while :; do
  if u=$(PGPASSWORD="$DB_PASSWORD" "${pg.psql}" -h 127.0.0.1 -p ${pg.port} -U "$DB_USER" -d postgres -Atc "select current_user" 2>/dev/null); then
    echo "login ok $$ $u"
  else
    echo "login failed $$"
  fi
  sleep 0.3
done`;
    const env = bao.env({
      PATH: "/usr/bin:/bin",
      CLOUDTASER_SECRET_PATHS: "database/creds/app",
      CLOUDTASER_ENV_MAP: "username=DB_USER,password=DB_PASSWORD",
      CLOUDTASER_CHANGE_SPLAY: "0",
      CLOUDTASER_KILL_TIMEOUT: "3s",
    });
    // A start that fails after the read (a key the answer lacks) revokes
    // the lease with the token: no role is left behind.
    const bad = await wrapper(["--", "/bin/true"], {
      ...env,
      CLOUDTASER_ENV_MAP: "username=DB_USER,no_such_key=X",
    });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /has no key .{1,2}no_such_key/);
    assert.deepEqual(await roles(), [], "the failed start's role revoked");
    // check reads the path (a role is made), lists the lease, and revokes
    // the token it kept with its lease: the role is gone again.
    const c = await wrapper(["check"], env);
    assert.equal(c.code, 0, c.stderr);
    assert.match(
      c.stdout,
      /^lease: database\/creds\/app, 6 s, renewed at about 2\/3 of it;/m,
    );
    assert.deepEqual(await roles(), [], "check's credentials revoked");
    const w = await run(["--", "/bin/sh", "-c", app], env);
    try {
      const t0 = Date.now();
      await w.until(() => /login ok \d+ v-/.test(w.out), 30_000, "first login");
      const first = /login ok \d+ (v-\S+)/.exec(w.out)![1];
      assert.deepEqual(await roles(), [first]);
      // Past the 6 s default TTL the role still logs in: renewed.
      await w.until(() => Date.now() - t0 > 9_000, 15_000, "9 s");
      assert.match(w.err, /refresh due: ok; token same, app same/);
      const recent = w.out.trim().split("\n").slice(-3).join("\n");
      assert.match(recent, new RegExp(`login ok \\d+ ${first}`), recent);
      // Past max TTL: new credentials, a new app with them.
      await w.until(
        () =>
          [...w.out.matchAll(/login ok \d+ (v-\S+)/g)].some((m) =>
            m[1] !== first
          ),
        40_000,
        "new credentials past max_ttl",
      );
      const second = [...w.out.matchAll(/login ok \d+ (v-\S+)/g)]
        .map((m) => m[1]).find((u) => u !== first)!;
      assert.match(w.err, /restart/);
      // The old role ends with its lease (at max TTL).
      const end = Date.now() + 30_000;
      while ((await roles()).includes(first) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(!(await roles()).includes(first), "old role dropped");
      assert.ok((await roles()).includes(second));
      w.kill("SIGTERM");
      assert.equal((await w.status()).code, 143, w.err);
      assert.deepEqual(await roles(), [], "revoked at exit");
    } finally {
      await w.end();
    }
    assertNoSecretInOutput([pg.admin.password]);
  } finally {
    await bao.stop();
    await pg.stop();
  }
});
