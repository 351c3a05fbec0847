/**
 * The errors a Vault answer turns into: one sentence each, naming the path,
 * the status and what to check; the server's own `errors` quoted. Never a
 * value: only statuses, key names and the server's messages.
 */
import { VaultError } from "./errors.ts";
import {
  decodeInto,
  decodeString,
  findPath,
  type JsonSpan,
  JsonSyntaxError,
  maxDecodedLength,
} from "./json_bytes/mod.ts";
import type { AuthMethod } from "./login_request.ts";
import type { Mount } from "./kv_mounts.ts";
import { responseErrors } from "./response_errors.ts";
import type { PathRead } from "./secret_plan.ts";
import type { TransportResponse } from "./transport.ts";

/**
 * The error for a status that is not the answer: 503 sealed, 429 rate
 * limited past `maxRetries`, 403 forbidden (with `advice[403]`), anything
 * else a server error. The server's own `errors` are quoted (they hold no
 * secret).
 */
export function statusError(
  res: TransportResponse,
  what: string,
  path: string | undefined,
  maxRetries: number,
  advice: Record<number, string> = {},
): VaultError {
  const said = responseErrors(res.body);
  const tail = said ? ` (server: ${said})` : "";
  const s = res.status;
  const detail = { path, status: s };
  if (s === 503) {
    return new VaultError(
      "sealed",
      `${what}: the server answered 503, it is sealed or not active` +
        `${tail}; unseal it (bao operator unseal) or check its health`,
      detail,
    );
  }
  if (s === 429) {
    return new VaultError(
      "rate_limited",
      `${what}: still rate limited (429) after ${maxRetries} ` +
        `retries${tail}; raise VAULT_MAX_RETRIES or the server's quota`,
      detail,
    );
  }
  if (s === 403) {
    return new VaultError(
      "forbidden",
      `${what}: permission denied (403)${tail}; ${
        advice[403] ?? "check the token's policies"
      }`,
      detail,
    );
  }
  return new VaultError(
    "server",
    `${what}: HTTP ${s}${tail}${advice[s] ? `; ${advice[s]}` : ""}`,
    detail,
  );
}

/**
 * The error for a refused login, with a hint per method; `role` is
 * VAULT_AUTH_ROLE, named when a kubernetes role does not bind the pod.
 */
export function loginError(
  res: TransportResponse,
  method: AuthMethod,
  what: string,
  maxRetries: number,
  role: string | undefined,
): VaultError {
  if (res.status === 503 || res.status === 429) {
    return statusError(res, what, undefined, maxRetries);
  }
  const hint: Record<AuthMethod, string> = {
    cert: "check VAULT_CLIENT_CERT/VAULT_CLIENT_KEY, that the certificate " +
      "is signed by the CA of the cert role, and VAULT_AUTH_ROLE",
    kubernetes: "check VAULT_AUTH_ROLE and the service-account token in " +
      "VAULT_JWT_FILE (audience, issuer, expiry)",
    jwt: "check VAULT_AUTH_ROLE and the JWT in VAULT_JWT_FILE (audience, " +
      "issuer, expiry)",
    approle: "check VAULT_AUTH_ROLE (the role_id) and the secret_id in " +
      "VAULT_APPROLE_SECRET_ID_FILE",
    token: "check the token",
  };
  const said = responseErrors(res.body);
  // The kubernetes method accepted the token (TokenReview) but the role
  // does not list its service account or namespace.
  if (method === "kubernetes" && /not authorized/.test(said)) {
    hint.kubernetes =
      `the kubernetes auth role "${role}" (VAULT_AUTH_ROLE) does not bind this service account or its ` +
      "namespace: add them to the role's bound_service_account_names / " +
      "bound_service_account_namespaces, or run the pod as a service " +
      "account the role binds (the token is VAULT_JWT_FILE)";
  }
  return new VaultError(
    "auth",
    `${what} failed: HTTP ${res.status}${said ? ` (server: ${said})` : ""}; ${
      hint[method]
    }; the mount comes from VAULT_AUTH_MOUNT_PATH`,
    { status: res.status },
  );
}

/** The error for a failed read: deleted, not found, or a status error. */
export function readError(
  res: TransportResponse,
  read: PathRead,
  mount: Mount,
  apiPath: string,
  what: string,
  maxRetries: number,
): VaultError {
  const detail = { path: read.path, status: res.status };
  if (res.status === 404) {
    if (mount.version === 2) {
      const gone = deletion(res.body);
      if (gone) {
        return new VaultError(
          "deleted",
          `${what}: ${gone}; ${
            read.version === undefined
              ? "restore it (bao kv undelete) or write a new version"
              : "pin another version"
          }`,
          detail,
        );
      }
    }
    return new VaultError(
      "not_found",
      `${what}: no secret at ${apiPath}${
        read.version !== undefined ? ` version ${read.version}` : ""
      } (404); check the path in CLOUDTASER_SECRET_PATHS or the vault: ` +
        `reference${
          mount.version === 2
            ? ` (${mount.path} is KV v2: API paths have data/ after the mount)`
            : ""
        }`,
      detail,
    );
  }
  return statusError(res, what, read.path, maxRetries, {
    403: `the token's policies must grant read on ${apiPath}`,
  });
}

/** KV v2 answers 404 with metadata for a deleted or destroyed version. */
function deletion(body: Uint8Array): string | undefined {
  try {
    const destroyed = findPath(body, ["data", "metadata", "destroyed"]);
    const time = findPath(body, ["data", "metadata", "deletion_time"]);
    const version = findPath(body, ["data", "metadata", "version"]);
    const v = version?.kind === "number" ? ` ${numberText(body, version)}` : "";
    if (destroyed?.kind === "true") return `version${v} was destroyed`;
    if (time?.kind === "string" && decodeString(body, time) !== "") {
      return `version${v} was deleted at ${decodeString(body, time)}`;
    }
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
  }
  return undefined;
}

/** The JSON text of a (non-secret) number, e.g. a version. */
function numberText(body: Uint8Array, span: JsonSpan): string {
  const out = new Uint8Array(maxDecodedLength(span));
  return new TextDecoder().decode(out.subarray(0, decodeInto(body, span, out)));
}

/** The error for a key the secret lacks; lists the key names it has. */
export function missingKey(
  read: PathRead,
  key: string,
  source: string,
  keys: string[],
): VaultError {
  const have = keys.length === 0
    ? "it holds no keys"
    : `it holds ${keys.length} key(s): ${keys.slice(0, 10).join(", ")}${
      keys.length > 10 ? ", ..." : ""
    }`;
  return new VaultError(
    "missing_key",
    `${read.path}${
      read.version !== undefined ? ` version ${read.version}` : ""
    } has no key ${JSON.stringify(key)} (wanted by ${source}); ${have}`,
    { path: read.path, key },
  );
}
