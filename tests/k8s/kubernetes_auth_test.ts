/**
 * OpenBao's real `kubernetes` auth method against a real kube-apiserver:
 * the wrapper logs in with a service-account token from the TokenRequest
 * API (VAULT_JWT_FILE), over mTLS; OpenBao checks it with TokenReview.
 */
import assert from "node:assert/strict";
import { enableKubernetesAuth } from "../support/openbao/kubernetes_auth.ts";
import { type KubeCluster, startKubeCluster } from "../support/kube.ts";
import { sha256Hex } from "../support/markers.ts";
import {
  assertNoSecretInOutput,
  put,
  secret,
  sharedServer,
  wrapper,
} from "../support/wrapper.ts";

const { server, stop } = sharedServer();
const SECRET = secret("k8sauth");
const tokens: string[] = [];
let cluster: Promise<KubeCluster> | undefined;

/** The cluster and OpenBao, set up once for the file. */
async function ready() {
  const first = !cluster;
  cluster ??= startKubeCluster();
  const [k, bao] = await Promise.all([cluster, server()]);
  if (first) {
    for (const ns of ["team-a", "team-b", "openbao"]) await k.namespace(ns);
    await k.serviceAccount("team-a", "app");
    await k.serviceAccount("team-a", "other");
    await k.serviceAccount("team-b", "app");
    await k.serviceAccount("openbao", "reviewer");
    await k.must(
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "openbao-reviewer" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "system:auth-delegator",
        },
        subjects: [{
          kind: "ServiceAccount",
          name: "reviewer",
          namespace: "openbao",
        }],
      },
    );
    const reviewerJwt = await k.token("openbao", "reviewer");
    tokens.push(reviewerJwt);
    await enableKubernetesAuth(bao, {
      host: k.server,
      caPem: k.caPem,
      reviewerJwt,
      roles: [{
        name: "app",
        serviceAccounts: ["app"],
        namespaces: ["team-a"],
      }],
    });
    await put(bao, "secret/data/team-a/db", { password: SECRET });
  }
  return { k, bao };
}

/** The wrapper's env: mTLS client certificate, kubernetes auth, one secret. */
async function wrapperEnv(namespace: string, sa: string) {
  const { k, bao } = await ready();
  const jwt = await k.token(namespace, sa);
  tokens.push(jwt);
  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-sa-" });
  const file = `${dir}/token`;
  await Deno.writeTextFile(file, jwt, { mode: 0o600 });
  return {
    env: bao.env({
      PATH: "/usr/bin:/bin",
      VAULT_AUTH_METHOD: "kubernetes",
      VAULT_AUTH_ROLE: "app",
      VAULT_JWT_FILE: file,
      CLOUDTASER_SECRET_PATHS: "secret/data/team-a/db",
      CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
    }),
    dir,
  };
}

const APP = ["--", "/bin/sh", "-c", 'printf %s "$DB_PASSWORD" | sha256sum'];

Deno.test("kubernetes auth against the API server: a TokenRequest token of team-a/app logs in over mTLS and the app gets its secret", async () => {
  const { env, dir } = await wrapperEnv("team-a", "app");
  try {
    assert.ok(env.VAULT_CLIENT_CERT && env.VAULT_CLIENT_KEY, "mTLS");
    const r = await wrapper(APP, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(" ")[0], await sha256Hex(SECRET));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a token of another service account is refused: the message names the role and the unbound service account, never the token", async () => {
  const { env, dir } = await wrapperEnv("team-a", "other");
  try {
    const r = await wrapper(APP, env);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "", "the app must not run");
    assert.match(r.stderr, /kubernetes auth role \\?"app\\?"/);
    assert.match(r.stderr, /does not bind this service account/);
    assert.match(r.stderr, /bound_service_account_names/);
    assert.match(r.stderr, /service account name not authorized/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a token of the same name in another namespace is refused, naming the namespace binding", async () => {
  const { env, dir } = await wrapperEnv("team-b", "app");
  try {
    const r = await wrapper(APP, env);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /kubernetes auth role \\?"app\\?"/);
    assert.match(r.stderr, /namespace not authorized/);
    assert.match(r.stderr, /bound_service_account_namespaces/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TokenReview is real: the token of a deleted ServiceAccount is refused although its signature is valid", async () => {
  const { k } = await ready();
  await k.serviceAccount("team-a", "app");
  const { env, dir } = await wrapperEnv("team-a", "app");
  try {
    // Positive control first: the same token works while the account exists.
    const before = await wrapper(APP, env);
    assert.equal(before.code, 0, before.stderr);
    await k.must("DELETE", "/api/v1/namespaces/team-a/serviceaccounts/app");
    // The API server caches a successful authentication for 10 s: poll.
    let after = await wrapper(APP, env);
    for (let i = 0; i < 30 && after.code === 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await wrapper(APP, env);
    }
    assert.equal(after.code, 1, after.stderr);
    assert.equal(after.stdout, "");
    assert.match(after.stderr, /login with VAULT_AUTH_METHOD=kubernetes/);
  } finally {
    await k.serviceAccount("team-a", "app");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no test secret or service-account token reached any output", async () => {
  try {
    assert.ok(tokens.length >= 4);
    assertNoSecretInOutput([SECRET, ...tokens]);
  } finally {
    await stop();
    await (await cluster)?.stop();
  }
});
