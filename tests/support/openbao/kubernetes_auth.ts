/**
 * OpenBao's real `kubernetes` auth method on a test server from
 * {@linkcode startOpenBao}: OpenBao checks each login's service-account
 * token with the API server's TokenReview, using a reviewer token of its
 * own. The server starts with a `jwt`-type mount at `auth/kubernetes`
 * (static key, no API server); this replaces it with the real method at
 * the same path, so the wrapper's default VAULT_AUTH_MOUNT_PATH is used.
 */
import type { OpenBao } from "./server.ts";

/** One role: which service accounts in which namespaces may log in. */
export interface KubernetesRole {
  name: string;
  serviceAccounts: string[];
  namespaces: string[];
  /** @default ["app"] (the policy every test role gets) */
  policies?: string[];
  /** The `aud` the token must carry; unset accepts the API server's default. */
  audience?: string;
}

/** Options of {@linkcode enableKubernetesAuth}. */
export interface KubernetesAuthOptions {
  /** `https://HOST:PORT` of the kube-apiserver. */
  host: string;
  /** PEM of the CA that signed the API server's certificate. */
  caPem: string;
  /**
   * A token of a service account allowed to create TokenReviews (bound to
   * the `system:auth-delegator` ClusterRole).
   */
  reviewerJwt: string;
  roles: KubernetesRole[];
  /** @default "kubernetes" */
  mount?: string;
  /** @default "1h" */
  tokenTtl?: string;
}

async function must(
  bao: OpenBao,
  method: string,
  path: string,
  body?: unknown,
): Promise<void> {
  const r = await bao.api(method, path, body);
  if (r.status < 200 || r.status > 299) {
    throw new Error(
      `${method} /v1/${path} gave ${r.status}: ${JSON.stringify(r.json)}`,
    );
  }
}

/**
 * Mounts `kubernetes` auth at `auth/<mount>` (replacing what is there),
 * configured against the API server, with `roles`.
 *
 * @example
 * ```ts
 * await enableKubernetesAuth(bao, {
 *   host: cluster.server,
 *   caPem: cluster.caPem,
 *   reviewerJwt: await cluster.token("kube-system", "openbao-reviewer"),
 *   roles: [{ name: "app", serviceAccounts: ["app"], namespaces: ["team-a"] }],
 * });
 * ```
 */
export async function enableKubernetesAuth(
  bao: OpenBao,
  opts: KubernetesAuthOptions,
): Promise<void> {
  const mount = opts.mount ?? "kubernetes";
  const ttl = opts.tokenTtl ?? "1h";
  const mounts = await bao.api("GET", "sys/auth");
  if (mounts.json?.data?.[`${mount}/`]) {
    await must(bao, "DELETE", `sys/auth/${mount}`);
  }
  await must(bao, "POST", `sys/auth/${mount}`, {
    type: "kubernetes",
    description:
      "service-account tokens checked with the API server's TokenReview",
  });
  await must(bao, "POST", `auth/${mount}/config`, {
    kubernetes_host: opts.host,
    kubernetes_ca_cert: opts.caPem,
    token_reviewer_jwt: opts.reviewerJwt,
    // OpenBao runs outside the cluster: no local service-account files.
    disable_local_ca_jwt: true,
  });
  for (const r of opts.roles) {
    await must(bao, "POST", `auth/${mount}/role/${r.name}`, {
      bound_service_account_names: r.serviceAccounts,
      bound_service_account_namespaces: r.namespaces,
      ...(r.audience ? { audience: r.audience } : {}),
      token_policies: r.policies ?? ["app"],
      token_ttl: ttl,
      token_max_ttl: ttl,
    });
  }
}
