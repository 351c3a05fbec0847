/**
 * Memory hygiene measured from outside: a fixture process fetches the test
 * secrets into its region and waits; this test (root) reads every readable
 * mapping of it through /proc/<pid>/maps + /proc/<pid>/mem and counts each
 * secret (UTF-8 and UTF-16). Any copy outside the region fails the test,
 * naming the mapping. The region itself is memfd_secret: the kernel refuses
 * the read (EIO), which the scan reports.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { put, secret, sharedServer } from "../support/vault.ts";
import {
  copies,
  scanMemory as scan,
  startHolder,
} from "../support/mem_scan.ts";

const { server, stop } = sharedServer();
const FIXTURE =
  new URL("./fixtures/fetch_and_hold.ts", import.meta.url).pathname;

function utf16(s: string): Buffer {
  return Buffer.from(s, "utf16le");
}

async function runFixture(env: Record<string, string>) {
  const h = await startHolder(FIXTURE, [], {
    ...env,
    NO_COLOR: "1",
    ...(Deno.env.get("CT_PERTURB")
      ? { GLIBC_TUNABLES: "glibc.malloc.perturb=165" }
      : {}),
  });
  return { info: JSON.parse(h.first), finish: h.finish };
}

Deno.test("right before the hand-over no test secret is outside the region, and no token left in memory is valid", async () => {
  const bao = await server();
  try {
    const S = {
      db: secret("mem-db"),
      kv: secret("mem-kv"),
      ref: secret("mem-ref"),
      uni: secret("mem-uni") + "-ключ-🔐",
      big: secret("mem-big"),
    };
    await put(bao, "secret/data/mem/db", { password: S.db, user: "app" });
    await put(bao, "kv/mem", { token: S.kv });
    await put(bao, "secret/data/mem/ref", { key: S.ref, uni: S.uni });
    await put(bao, "secret/data/mem/big", { blob: S.big + "y".repeat(65536) });
    // A child token of policy `app`, known to the test, to count its copies.
    const t = await bao.api("POST", "auth/token/create", {
      policies: ["app"],
      ttl: "10m",
    });
    const token: string = t.json.auth.client_token;
    const tokenFile = `${bao.dir}/mem-token`;
    await Deno.writeTextFile(tokenFile, token, { mode: 0o600 });

    const base = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      ...(Deno.env.get("DENO_DIR")
        ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
        : {}),
      CLOUDTASER_SECRET_PATHS: "secret/data/mem/db,kv/mem,secret/data/mem/big",
      CLOUDTASER_ENV_MAP: "password=DB_PASSWORD;token=KV_TOKEN;blob=BIG",
      REF_KEY: "vault:secret/data/mem/ref#key",
      REF_UNI: "vault:secret/data/mem/ref#uni",
      CLOUDTASER_ENFORCER_SOCKET: "/nonexistent/enforcer.sock",
    };
    const runs: [string, Record<string, string>][] = [
      ["cert", bao.env(base)],
      ["token file", {
        ...bao.env(base),
        VAULT_AUTH_METHOD: "token",
        VAULT_TOKEN_FILE: tokenFile,
      }],
    ];
    for (const [label, env] of runs) {
      const { info, finish } = await runFixture(env);
      let result;
      try {
        assert.ok(info.report, `fixture failed: ${JSON.stringify(info)}`);
        assert.equal(info.backing, "memfd_secret");
        const needles: Record<string, Buffer> = {};
        for (const [k, v] of Object.entries(S)) {
          needles[k] = Buffer.from(v);
          needles[k + " (UTF-16)"] = utf16(v);
        }
        needles.token = Buffer.from(token);
        needles["token (UTF-16)"] = utf16(token);
        const t0 = performance.now();
        const r = scan(info.pid, needles);
        const ms = Math.round(performance.now() - t0);
        const region = BigInt(info.address);
        const regionUnreadable = r.unreadable.some((u) =>
          u.startsWith(region.toString(16) + "-") && /EIO/.test(u)
        );
        const secretCopies = copies(
          r,
          ...Object.keys(S).flatMap((k) => [k, k + " (UTF-16)"]),
        );
        const tokenCopies = copies(r, "token", "token (UTF-16)");
        console.log(
          `  ${label}: ${info.report.requests} requests, ` +
            `${info.report.elapsedMs} ms fetch; scanned ${
              (r.bytes / 2 ** 20).toFixed(0)
            } MiB in ${ms} ms; secret copies outside the region: ` +
            `${secretCopies}; token copies: ${
              label === "token file" ? tokenCopies : "n/a (cert login)"
            }; region unreadable (EIO): ${regionUnreadable}`,
        );
        if (label === "token file" && tokenCopies) {
          console.log(
            `  token found in: ${
              [
                ...(r.hits.get("token") ?? []).keys(),
                ...(r.hits.get("token (UTF-16)") ?? []).keys(),
              ].join("; ")
            }`,
          );
        }
        assert.ok(
          regionUnreadable,
          `region not EIO: ${r.unreadable.join("; ")}`,
        );
        // Every token left in memory must open nothing: the login token was
        // revoked before this point.
        const valid: string[] = [];
        for (const t of r.tokens) {
          const res = await bao.api(
            "GET",
            "auth/token/lookup-self",
            undefined,
            {
              token: t,
            },
          );
          if (res.status === 200) {
            valid.push(t === token ? "supplied" : "other");
          }
        }
        console.log(
          `  ${label}: ${r.tokens.size} token-shaped strings in memory, ` +
            `${valid.length} still valid`,
        );
        if (label === "token file") {
          // The supplied token stays valid (not the wrapper's to revoke),
          // and it lives only in its region: the shim reads it there for
          // each request (c/shim/http.c), it is never a JS string.
          assert.equal(tokenCopies, 0, "the supplied token left its region");
          assert.deepEqual(valid, []);
          assert.equal(info.report.tokenRevoked, false);
          // The control: the same scan finds the token in a process that
          // holds it in plain memory (its environment).
          const ctl = new Deno.Command("sleep", {
            args: ["30"],
            env: { HELD: token },
            clearEnv: true,
          }).spawn();
          try {
            const c = scan(ctl.pid, { token: Buffer.from(token) });
            assert.ok(c.tokens.has(token), "the scan missed the control");
          } finally {
            ctl.kill("SIGKILL");
            await ctl.status;
          }
        } else {
          assert.deepEqual(valid, [], "a valid token was left in memory");
          assert.equal(info.report.tokenRevoked, true);
        }
        const where: string[] = [];
        for (const k of Object.keys(S)) {
          for (const what of [k, k + " (UTF-16)"]) {
            for (const [m, c] of r.hits.get(what) ?? []) {
              where.push(`${what} x${c} in ${m}`);
            }
          }
        }
        // Copies in the malloc heap ([heap]) are freed Rust-side buffers of
        // the TLS/HTTP stack (rustls plaintext, hyper/h2 read buffers) that
        // glibc does not zero; JS cannot reach them. They are reported, and
        // bounded; everything else (the V8 heap above all) must hold none.
        // CT_STRICT_HEAP=1 makes [heap] copies fail too.
        const strict = Deno.env.get("CT_STRICT_HEAP") === "1";
        const outsideMalloc = where.filter((w) => !w.endsWith(" [heap]"));
        const inMalloc = where.filter((w) => w.endsWith(" [heap]"));
        if (inMalloc.length) {
          console.log(`  freed malloc copies: ${inMalloc.join("; ")}`);
        }
        assert.deepEqual(
          strict ? where : outsideMalloc,
          [],
          "secret copies outside the region",
        );
        for (const w of inMalloc) {
          assert.ok(Number(/ x(\d+) in/.exec(w)![1]) <= 6, w);
        }
        assert.deepEqual([...info.report.keys].sort(), [
          "BIG",
          "DB_PASSWORD",
          "KV_TOKEN",
          "REF_KEY",
          "REF_UNI",
        ]);
      } finally {
        result = await finish();
      }
      assert.equal(result.status.code, 0, result.stderr);
      assert.deepEqual(
        JSON.parse(result.stdout.trim().split("\n").at(-1)!),
        { canaryIntact: true },
      );
      for (const v of [...Object.values(S), token]) {
        assert.ok(!result.stdout.includes(v), "secret in fixture stdout");
        assert.ok(!result.stderr.includes(v), "secret in fixture stderr");
      }
      assert.match(result.stderr, /secrets fetched/);
    }
  } finally {
    await stop();
  }
});
