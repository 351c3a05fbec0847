/**
 * Seeding: the mounts, the policy, the auth methods and their roles the
 * tests log in with (the table in server.ts's comment).
 */
import { JwtSigner } from "./jwt.ts";
import type { Server } from "./server_process.ts";
import { OpenBaoError, type OpenBaoOptions, ROLE } from "./types.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const APP_POLICY = `
path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read", "list"] }
path "kv/*" { capabilities = ["read", "list"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }
`;

/** Configures a fresh, unsealed server through its HTTP API. */
export async function configure(
  s: Server,
  opts: OpenBaoOptions,
): Promise<void> {
  const ttl = opts.tokenTtl ?? "1h";
  const tokenSettings = {
    token_policies: [ROLE],
    token_ttl: ttl,
    token_max_ttl: opts.tokenMaxTtl ?? ttl,
  };
  const signer = await JwtSigner.create();
  await Promise.all([
    s.must("PUT", `sys/policies/acl/${ROLE}`, { policy: APP_POLICY }),
    s.must("POST", "sys/mounts/secret", {
      type: "kv",
      options: { version: "2" },
    }),
    s.must("POST", "sys/mounts/kv", { type: "kv", options: { version: "1" } }),
    s.must("POST", "sys/auth/cert", { type: "cert" }),
    s.must("POST", "sys/auth/approle", { type: "approle" }),
    s.must("POST", "sys/auth/jwt", { type: "jwt" }),
    s.must("POST", "sys/auth/kubernetes", {
      type: "jwt",
      description: "service-account JWTs, validated with a static key",
    }),
  ]);
  const jwtRole = {
    role_type: "jwt",
    bound_audiences: [signer.audience],
    user_claim: "sub",
    ...tokenSettings,
  };
  const jwtConfig = {
    jwt_validation_pubkeys: [signer.publicKeyPem],
    bound_issuer: signer.issuer,
  };
  await Promise.all([
    s.must("POST", `auth/cert/certs/${ROLE}`, {
      certificate: await Deno.readTextFile(s.caCert),
      ...tokenSettings,
    }),
    s.must("POST", `auth/approle/role/${ROLE}`, tokenSettings),
    s.must("POST", "auth/jwt/config", jwtConfig),
    s.must("POST", `auth/jwt/role/${ROLE}`, jwtRole),
    s.must("POST", "auth/kubernetes/config", jwtConfig),
    s.must("POST", `auth/kubernetes/role/${ROLE}`, jwtRole),
  ]);
  // One after the other: together they conflict in storage (see api()).
  const roleId = await s.must("GET", `auth/approle/role/${ROLE}/role-id`);
  const secretId = await s.must("POST", `auth/approle/role/${ROLE}/secret-id`);
  s.approle.roleId = roleId.json.data.role_id;
  s.approle.secretIdFile = `${s.dir}/approle-secret-id`;
  await Deno.writeTextFile(
    s.approle.secretIdFile,
    secretId.json.data.secret_id,
    {
      mode: 0o600,
    },
  );
  let jwtFiles = 0;
  s.jwt = {
    role: ROLE,
    issuer: signer.issuer,
    audience: signer.audience,
    publicKeyPem: signer.publicKeyPem,
    mint: (claims) => signer.mint(claims),
    writeFile: async (claims) => {
      const path = `${s.dir}/jwt-${++jwtFiles}`;
      await Deno.writeTextFile(path, await signer.mint(claims), {
        mode: 0o600,
      });
      return path;
    },
  };
  // A fresh KV v2 mount answers writes only once its set-up has run.
  const deadline = Date.now() + 10000;
  while ((await s.api("GET", "secret/config")).status !== 200) {
    if (Date.now() > deadline) {
      throw new OpenBaoError(
        "KV v2 at secret/ did not become ready",
        s.logTail(),
      );
    }
    await sleep(10);
  }
}
