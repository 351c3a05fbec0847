/**
 * The OpenBao test server (tests/support/openbao/): a real server over real TLS.
 * Each login is made the way a client makes it, with its own HTTP client;
 * the root token is used only to write fixtures.
 */
import assert from "node:assert/strict";
import { type OpenBao, startOpenBao } from "../support/openbao/server.ts";

async function login(
  bao: OpenBao,
  mount: string,
  body: unknown,
  client?: Deno.HttpClient,
): Promise<{ status: number; token?: string; policies?: string[] }> {
  const r = await bao.api("POST", `auth/${mount}/login`, body, {
    token: "",
    client,
  });
  return {
    status: r.status,
    token: r.json?.auth?.client_token,
    policies: r.json?.auth?.policies,
  };
}

async function mtlsClient(
  bao: OpenBao,
  cert: string,
  key: string,
): Promise<Deno.HttpClient> {
  return Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(bao.caCert)],
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
  });
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // A zombie still has a /proc entry; it is not running.
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

Deno.test("OpenBao test server: TLS, every auth method, KV v1/v2, seal, stop", async (t) => {
  const bao = await startOpenBao();
  let stopped = false;
  try {
    assert.match(bao.addr, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(alive(bao.pid), "server process running");
    assert.equal(Deno.statSync(bao.dir).mode! & 0o777, 0o700);

    await t.step("root token writes KV v2 and KV v1 fixtures", async () => {
      const v2 = await bao.api("POST", "secret/data/app/db", {
        data: { password: "v2-secret" },
      });
      assert.equal(v2.status, 200, JSON.stringify(v2.json));
      const v1 = await bao.api("PUT", "kv/app/api", { key: "v1-secret" });
      assert.equal(v1.status, 204, JSON.stringify(v1.json));
    });

    await t.step(
      "cert login with the trusted client cert reads KV v2 and v1",
      async () => {
        const client = await mtlsClient(bao, bao.clientCert, bao.clientKey);
        try {
          const r = await login(bao, "cert", { name: "app" }, client);
          assert.equal(r.status, 200);
          assert.ok(r.token);
          assert.ok(r.policies?.includes("app"));
          const v2 = await bao.api("GET", "secret/data/app/db", undefined, {
            token: r.token,
            client,
          });
          assert.equal(v2.status, 200);
          assert.equal(v2.json.data.data.password, "v2-secret");
          const v1 = await bao.api("GET", "kv/app/api", undefined, {
            token: r.token,
            client,
          });
          assert.equal(v1.status, 200);
          assert.equal(v1.json.data.key, "v1-secret");
          const mounts = await bao.api(
            "GET",
            "sys/internal/ui/mounts/secret/app/db",
            undefined,
            { token: r.token, client },
          );
          assert.equal(mounts.status, 200);
          assert.equal(mounts.json.data.options.version, "2");
          // The policy grants reads, not writes.
          const w = await bao.api("PUT", "kv/app/api", { key: "x" }, {
            token: r.token,
            client,
          });
          assert.equal(w.status, 403);
        } finally {
          client.close();
        }
      },
    );

    await t.step("cert login without a client cert is refused", async () => {
      const r = await login(bao, "cert", { name: "app" });
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
      assert.equal(r.token, undefined);
    });

    await t.step(
      "cert login with a cert from the untrusted CA fails",
      async () => {
        const client = await mtlsClient(
          bao,
          bao.untrustedCert,
          bao.untrustedKey,
        );
        try {
          const r = await login(bao, "cert", { name: "app" }, client);
          assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
          assert.equal(r.token, undefined);
        } finally {
          client.close();
        }
      },
    );

    await t.step(
      "approle login with the role_id and the secret_id file",
      async () => {
        assert.equal(
          Deno.statSync(bao.approle.secretIdFile).mode! & 0o777,
          0o600,
        );
        const r = await login(bao, "approle", {
          role_id: bao.approle.roleId,
          secret_id: (await Deno.readTextFile(bao.approle.secretIdFile)).trim(),
        });
        assert.equal(r.status, 200);
        assert.ok(r.policies?.includes("app"));
        const v2 = await bao.api("GET", "secret/data/app/db", undefined, {
          token: r.token,
        });
        assert.equal(v2.json.data.data.password, "v2-secret");
      },
    );

    await t.step(
      "jwt login at auth/jwt and auth/kubernetes; wrong audience and expired fail",
      async () => {
        for (const mount of ["jwt", "kubernetes"]) {
          const jwt = await bao.jwt.mint();
          const ok = await login(bao, mount, { role: bao.jwt.role, jwt });
          assert.equal(ok.status, 200, mount);
          assert.ok(ok.policies?.includes("app"));
        }
        const file = await bao.jwt.writeFile({
          sub: "system:serviceaccount:ns:other",
        });
        assert.equal(Deno.statSync(file).mode! & 0o777, 0o600);
        const fromFile = await login(bao, "kubernetes", {
          role: "app",
          jwt: await Deno.readTextFile(file),
        });
        assert.equal(fromFile.status, 200);
        const wrongAud = await login(bao, "jwt", {
          role: "app",
          jwt: await bao.jwt.mint({ aud: "someone-else" }),
        });
        assert.equal(wrongAud.status, 400);
        const now = Math.floor(Date.now() / 1000);
        const expired = await login(bao, "jwt", {
          role: "app",
          jwt: await bao.jwt.mint({
            iat: now - 7200,
            nbf: now - 7200,
            exp: now - 3600,
          }),
        });
        assert.equal(expired.status, 400);
      },
    );

    await t.step(
      "namespaces and rate-limit quotas can be set up with api()",
      async () => {
        const ns = await bao.api("POST", "sys/namespaces/team-a", {});
        assert.equal(ns.status, 200, JSON.stringify(ns.json));
        const mount = await bao.api("POST", "sys/mounts/secret", {
          type: "kv",
          options: { version: "2" },
        }, { namespace: "team-a" });
        assert.equal(mount.status, 204, JSON.stringify(mount.json));
        const q = await bao.api("POST", "sys/quotas/rate-limit/kv-limit", {
          path: "kv/",
          rate: 1,
          interval: "10s",
        });
        assert.equal(q.status, 204, JSON.stringify(q.json));
        const codes = [];
        for (let i = 0; i < 3; i++) {
          codes.push((await bao.api("GET", "kv/app/api")).status);
        }
        assert.ok(codes.includes(429), `statuses ${codes}`);
        await bao.api("DELETE", "sys/quotas/rate-limit/kv-limit");
      },
    );

    await t.step(
      "sealed: KV reads give 503; unsealed: they work again",
      async () => {
        await bao.seal();
        const sealed = await bao.api("GET", "secret/data/app/db");
        assert.equal(sealed.status, 503);
        await bao.unseal();
        const back = await bao.api("GET", "secret/data/app/db");
        assert.equal(back.status, 200);
        assert.equal(back.json.data.data.password, "v2-secret");
      },
    );

    await t.step("env() describes the cert-auth client configuration", () => {
      const env = bao.env({ VAULT_NAMESPACE: "team-a" });
      assert.equal(env.VAULT_ADDR, bao.addr);
      assert.equal(env.VAULT_CACERT, bao.caCert);
      assert.equal(env.VAULT_CLIENT_CERT, bao.clientCert);
      assert.equal(env.VAULT_CLIENT_KEY, bao.clientKey);
      assert.equal(env.VAULT_AUTH_METHOD, "cert");
      assert.equal(env.VAULT_AUTH_ROLE, "app");
      assert.equal(env.VAULT_NAMESPACE, "team-a");
    });

    await t.step(
      "stop() leaves no process and no directory, and is idempotent",
      async () => {
        const { pid, dir } = bao;
        await Promise.all([bao.stop(), bao.stop()]);
        stopped = true;
        assert.equal(alive(pid), false, `pid ${pid} still in /proc`);
        assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
        await bao.stop();
      },
    );
  } finally {
    if (!stopped) await bao.stop();
  }
});

Deno.test("two servers run side by side on different ports", async () => {
  const [a, b] = await Promise.all([startOpenBao(), startOpenBao()]);
  try {
    assert.notEqual(a.addr, b.addr);
    assert.equal((await a.api("GET", "sys/health")).status, 200);
    assert.equal((await b.api("GET", "sys/health")).status, 200);
    // Each server trusts only its own run's CA.
    const cross = await mtlsClient(a, b.clientCert, b.clientKey);
    try {
      const r = await login(a, "cert", { name: "app" }, cross);
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    } finally {
      cross.close();
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  assert.equal(alive(a.pid) || alive(b.pid), false);
});

Deno.test("a server does not outlive its SIGKILLed parent (parent-death signal)", async () => {
  const server = new URL("../support/openbao/server.ts", import.meta.url);
  const parent = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { startOpenBao } from ${JSON.stringify(server.href)};
       const bao = await startOpenBao();
       console.log(JSON.stringify({ pid: bao.pid, dir: bao.dir }));
       await new Promise(() => setInterval(() => {}, 1000));`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  let info: { pid: number; dir: string } | undefined;
  try {
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += value;
    }
    info = JSON.parse(line);
    assert.ok(alive(info!.pid));
  } finally {
    parent.kill("SIGKILL");
    await parent.status;
    await reader.cancel();
  }
  const deadline = Date.now() + 10000;
  while (alive(info!.pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const survived = alive(info!.pid);
  if (survived) Deno.kill(info!.pid, "SIGKILL");
  // unload does not run on SIGKILL: the directory is the test's to remove.
  await Deno.remove(info!.dir, { recursive: true });
  assert.equal(survived, false, `server ${info!.pid} outlived its parent`);
});
