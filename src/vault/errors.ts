/**
 * The one error type of the Vault client. Its message names the variable,
 * path, key or HTTP status and what to check; it never holds a secret value
 * (tests pin this).
 */

/** What went wrong, for callers that branch on it. */
export type VaultErrorKind =
  | "config" // a variable or reference is malformed
  | "connection" // no TCP connection (after retries)
  | "tls" // certificate verification or client certificate rejected
  | "timeout" // VAULT_CLIENT_TIMEOUT passed, or the caller aborted
  | "auth" // login refused
  | "forbidden" // 403 on a secret
  | "not_found" // no secret at the path
  | "missing_key" // the secret has no such key
  | "deleted" // KV v2 version soft-deleted or destroyed
  | "sealed" // 503: the server is sealed
  | "rate_limited" // 429 after every retry
  | "server" // any other non-2xx answer
  | "bad_response" // the body is not the JSON Vault sends
  | "invalid_value" // a value the delivery cannot carry (NUL)
  | "duplicate"; // two sources set one env name

/** A Vault/OpenBao operation failed; nothing was delivered. */
export class VaultError extends Error {
  readonly kind: VaultErrorKind;
  /** The secret path involved, as configured. */
  readonly path?: string;
  /** The key (field) involved. */
  readonly key?: string;
  /** The last HTTP status, when a response came. */
  readonly status?: number;

  constructor(
    kind: VaultErrorKind,
    message: string,
    detail: { path?: string; key?: string; status?: number } = {},
  ) {
    super(message);
    this.name = "VaultError";
    this.kind = kind;
    this.path = detail.path;
    this.key = detail.key;
    this.status = detail.status;
  }
}
