/** The shapes the OpenBao test server hands out (server.ts starts one). */
/** The role every auth method of the server gets (policy `app`). */
export const ROLE = "app";

/** Options of {@linkcode startOpenBao}. */
export interface OpenBaoOptions {
  /**
   * How long to wait for the listener to answer.
   * @default 15000
   */
  startTimeoutMs?: number;
  /**
   * TTL of tokens issued by every auth role.
   * @default "1h"
   */
  tokenTtl?: string;
  /**
   * Max TTL of those tokens (renewals stop there).
   * @default tokenTtl
   */
  tokenMaxTtl?: string;
  /**
   * Extra `listener "tcp"` settings, merged over the defaults
   * (`max_request_json_strings = 100000`, raised from OpenBao's 1,000 so a
   * test can write a secret with 1,000 keys).
   */
  listener?: Record<string, string | number | boolean>;
  /**
   * Server log level (the log is `<dir>/server.log`).
   * @default "info"
   */
  logLevel?: "trace" | "debug" | "info" | "warn" | "error";
}

/** Result of {@linkcode OpenBao.api}. `json` is `null` for an empty body. */
export interface ApiResult {
  status: number;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** Options of {@linkcode OpenBao.api}. */
export interface ApiOptions {
  /** `X-Vault-Token`; `""` sends none. @default the root token */
  token?: string;
  /** `X-Vault-Namespace`, e.g. `"team-a"`. */
  namespace?: string;
  /** Another HTTP client, e.g. one with a client certificate. */
  client?: Deno.HttpClient;
}

/** JWT auth as set up on the server. */
export interface OpenBaoJwt {
  /** The role at both mounts: `"app"`. */
  role: string;
  issuer: string;
  audience: string;
  /** The validation key configured at both mounts (SPKI PEM). */
  publicKeyPem: string;
  /** A signed JWT the role accepts; `claims` override `iss`/`sub`/`aud`/`exp`/... */
  mint(claims?: Record<string, unknown>): Promise<string>;
  /** Mints a JWT and writes it to a new 0600 file in `dir`; returns the path. */
  writeFile(claims?: Record<string, unknown>): Promise<string>;
}

/** A running OpenBao server. Always `stop()` it, in a `finally`. */
export interface OpenBao {
  /** `https://127.0.0.1:PORT` */
  addr: string;
  port: number;
  /** Temp dir (0700) with the certificates, config, log and credential files. */
  dir: string;
  caCert: string;
  serverCert: string;
  /** Trusted client certificate (CN `cloudtaser-app`), bound to cert role `app`. */
  clientCert: string;
  clientKey: string;
  /** Client certificate from another CA: cert login must fail. */
  untrustedCert: string;
  untrustedKey: string;
  untrustedCaCert: string;
  /** The server's log file. */
  logFile: string;
  rootToken: string;
  unsealKey: string;
  pid: number;
  approle: { role: string; roleId: string; secretIdFile: string };
  jwt: OpenBaoJwt;
  /** An HTTP call to `/v1/<path>` over TLS, with the root token by default. */
  api(
    method: string,
    path: string,
    body?: unknown,
    opts?: ApiOptions,
  ): Promise<ApiResult>;
  /**
   * The client's configuration for cert auth: `VAULT_ADDR`, `VAULT_CACERT`,
   * `VAULT_CLIENT_CERT`, `VAULT_CLIENT_KEY`, `VAULT_AUTH_METHOD=cert`,
   * `VAULT_AUTH_ROLE=app`, then `extra` over them.
   */
  env(extra?: Record<string, string>): Record<string, string>;
  /** The last lines of the server log. */
  logTail(lines?: number): string;
  /** Seals the server; KV reads then get 503. */
  seal(): Promise<void>;
  /** Unseals with the stored key and waits until the server is active. */
  unseal(): Promise<void>;
  /** Kills the server (SIGTERM, SIGKILL after 5 s) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/** The server did not come up, or its set-up failed. */
export class OpenBaoError extends Error {
  constructor(message: string, readonly logTail = "") {
    super(
      logTail ? `${message}\n--- server log tail ---\n${logTail}` : message,
    );
    this.name = "OpenBaoError";
  }
}
