/**
 * VaultClient: one server, one transport, one token. Logs in, tells KV v1
 * from v2 per mount, reads secrets as bytes with retries under one deadline.
 * It never writes a value anywhere; `fetchSecrets` decides that. Mount
 * lookup is kv_mounts.ts, the wording of failed answers status_errors.ts.
 */
import type { Config } from "../config/parse.ts";
import { log } from "../log.ts";
import { classifyFailure } from "./classify_failure.ts";
import { createTransport } from "./create_transport.ts";
import { VaultError } from "./errors.ts";
import {
  decodeString,
  findPath,
  type JsonSpan,
  JsonSyntaxError,
} from "./json_bytes/mod.ts";
import {
  apiPath,
  legacyMount,
  type Mount,
  MountCache,
  mountFromAnswer,
} from "./kv_mounts.ts";
import { type AuthMethod, loginRequest } from "./login_request.ts";
import type { PathRead } from "./secret_plan.ts";
import {
  isRetryableStatus,
  parseRetryAfterMs,
  retryDelayMs,
} from "./retry_policy.ts";
import { loginError, readError, statusError } from "./status_errors.ts";
import { tlsSettings } from "./tls_settings.ts";
import { TokenStore } from "./token_store.ts";
import type { Transport, TransportResponse } from "./transport.ts";

/** Options of {@link VaultClient.create}. */
export interface VaultClientOptions {
  /** Aborts everything (in addition to VAULT_CLIENT_TIMEOUT). */
  signal?: AbortSignal;
}

/** What {@link VaultClient.revokeToken} did; `why` when it did not. */
export interface TokenRevocation {
  revoked: boolean;
  why?: string;
}

/**
 * A secret's response. `data` spans the key/value object inside `body`.
 * The caller zeroes `body` when done (`body.fill(0)`).
 */
export interface KvSecret {
  read: PathRead;
  /** The API path requested, e.g. `secret/data/app/db`. */
  apiPath: string;
  kvVersion: 1 | 2;
  body: Uint8Array;
  data: JsonSpan;
}

interface Sent {
  body?: Uint8Array;
  token?: boolean;
  /** For messages: "login", "reading secret/data/x", ... */
  what: string;
  path?: string;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * A client for one Vault/OpenBao server.
 *
 * @example
 * ```ts
 * const client = VaultClient.create(parseConfig(Deno.env.toObject()));
 * try {
 *   await client.login();
 *   const secret = await client.readSecret(planSecrets(config).reads[0]);
 *   secret.body.fill(0);
 * } finally {
 *   client.close();
 * }
 * ```
 */
export class VaultClient {
  /** VAULT_AUTH_METHOD in use. */
  readonly authMethod: AuthMethod;
  /** True when the server certificate is not verified (costs score). */
  readonly skipVerify: boolean;
  /**
   * VAULT_ADDR is plain http:// (allowed by CLOUDTASER_ALLOW_INSECURE_HTTP):
   * the token and the secrets cross the network in clear (costs score).
   */
  readonly plainHttp: boolean;

  readonly #config: Config;
  readonly #transport: Transport;
  readonly #origin: string;
  readonly #serverName?: string;
  readonly #namespace?: string;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #deadline: AbortSignal;
  readonly #deadlineAt: number;
  readonly #signal: AbortSignal;
  readonly #token = new TokenStore();
  readonly #mounts = new MountCache();
  #requests = 0;
  #closed = false;

  private constructor(config: Config, opts: VaultClientOptions) {
    this.#config = config;
    this.authMethod = config.enum("VAULT_AUTH_METHOD");
    const tls = tlsSettings(config);
    this.skipVerify = tls.skipVerify;
    this.#serverName = tls.serverName;
    this.#origin = config.string("VAULT_ADDR")!.replace(/\/+$/, "");
    this.plainHttp = this.#origin.startsWith("http:");
    if (this.plainHttp) {
      log("vault").warn(
        "{variable} is plain HTTP ({addr}), allowed by " +
          "CLOUDTASER_ALLOW_INSECURE_HTTP: the token and every secret cross " +
          "the network in clear; the protection score is reduced",
        { variable: config.source("VAULT_ADDR"), addr: this.#origin },
      );
    }
    this.#namespace = config.string("VAULT_NAMESPACE");
    this.#maxRetries = config.int("VAULT_MAX_RETRIES");
    this.#timeoutMs = config.durationMs("VAULT_CLIENT_TIMEOUT");
    this.#deadline = AbortSignal.timeout(this.#timeoutMs);
    this.#deadlineAt = Date.now() + this.#timeoutMs;
    this.#signal = opts.signal
      ? AbortSignal.any([this.#deadline, opts.signal])
      : this.#deadline;
    this.#transport = createTransport(tls);
  }

  /**
   * Reads the TLS files and sets up the transport; the VAULT_CLIENT_TIMEOUT
   * deadline starts now. Throws a `config` {@link VaultError} for unreadable
   * files.
   */
  static create(config: Config, opts: VaultClientOptions = {}): VaultClient {
    return new VaultClient(config, opts);
  }

  /** HTTP requests sent so far, retries included. */
  get requests(): number {
    return this.#requests;
  }

  /** True when the token lives only in a memfd_secret region. */
  get tokenProtected(): boolean {
    return this.#token.protected;
  }

  /**
   * Revokes the token this client logged in with (`auth/token/revoke-self`)
   * and wipes it: a copy left in a freed buffer of the runtime, or stolen
   * from the process, then opens nothing. A token given to the wrapper
   * (VAULT_AUTH_METHOD=token) is not its own to revoke: other pods may share
   * it. Never throws: the outcome says what happened.
   */
  async revokeToken(): Promise<TokenRevocation> {
    if (!this.#token.hasToken) return { revoked: false, why: "no token" };
    if (this.authMethod === "token") {
      return {
        revoked: false,
        why: "VAULT_AUTH_METHOD=token: a supplied token is not revoked",
      };
    }
    const what = "revoking the login token (auth/token/revoke-self)";
    try {
      const res = await this.#send("POST", "auth/token/revoke-self", {
        token: true,
        what,
      });
      const status = res.status;
      res.body.fill(0);
      if (status !== 204 && status !== 200) {
        return { revoked: false, why: `${what}: HTTP ${status}` };
      }
      this.#token.wipe();
      return { revoked: true };
    } catch (e) {
      return { revoked: false, why: (e as Error).message };
    }
  }

  /**
   * Logs in with VAULT_AUTH_METHOD; the token goes from the response bytes
   * into the token's own region. For `token` no request is sent.
   */
  async login(): Promise<void> {
    const req = loginRequest(this.#config);
    if (req.method === "token" && "token" in req) {
      try {
        this.#token.setFromBytes(req.token, req.fromEnv);
      } finally {
        req.token.fill(0);
      }
      return;
    }
    if (!("mount" in req)) throw new Error("unreachable");
    const what = `login with VAULT_AUTH_METHOD=${req.method} at ${req.mount}`;
    let res: TransportResponse;
    try {
      res = await this.#send("POST", `${req.mount}/login`, {
        body: req.body,
        what,
      });
    } finally {
      req.body.fill(0);
    }
    try {
      if (res.status !== 200) {
        throw loginError(
          res,
          req.method,
          what,
          this.#maxRetries,
          this.#config.string("VAULT_AUTH_ROLE"),
        );
      }
      const span = this.#parse(res.body, ["auth", "client_token"], what);
      if (span?.kind !== "string") {
        throw new VaultError(
          "bad_response",
          `${what}: the answer holds no auth.client_token`,
          { status: res.status },
        );
      }
      this.#token.setFromJson(res.body, span);
    } finally {
      res.body.fill(0);
    }
    log("vault").debug("logged in", { method: req.method, mount: req.mount });
  }

  /**
   * Reads one secret (KV v1 or v2, told apart per mount as the Vault CLI
   * does). Fails closed: missing, forbidden, deleted, sealed → VaultError.
   */
  async readSecret(read: PathRead): Promise<KvSecret> {
    const mount = await this.#mounts.of(
      read.path,
      (p) => this.#lookupMount(p),
    );
    const api = apiPath(read.path, mount);
    if (read.version !== undefined && mount.version === 1) {
      throw new VaultError(
        "config",
        `${read.path}: version ${read.version} requested, but ${mount.path} ` +
          "is a KV v1 mount, which keeps no versions",
        { path: read.path },
      );
    }
    const query = read.version !== undefined ? `?version=${read.version}` : "";
    const what = `reading ${read.path}${
      read.version !== undefined ? ` version ${read.version}` : ""
    }`;
    const res = await this.#send("GET", api + query, {
      token: true,
      what,
      path: read.path,
    });
    try {
      if (res.status !== 200) {
        throw readError(res, read, mount, api, what, this.#maxRetries);
      }
      const dataPath = mount.version === 2 ? ["data", "data"] : ["data"];
      const data = this.#parse(res.body, dataPath, what, read.path);
      if (data?.kind !== "object") {
        throw new VaultError(
          "bad_response",
          `${what}: the answer has no ${dataPath.join(".")} object`,
          { path: read.path, status: res.status },
        );
      }
      return {
        read,
        apiPath: api,
        kvVersion: mount.version,
        body: res.body,
        data,
      };
    } catch (e) {
      res.body.fill(0);
      throw e;
    }
  }

  /** Closes the transport and wipes the token. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#token.wipe();
    this.#transport.close();
  }

  // -- requests --------------------------------------------------------------

  async #send(
    method: "GET" | "POST",
    apiPath: string,
    sent: Sent,
  ): Promise<TransportResponse> {
    const url = new URL(`${this.#origin}/v1/${apiPath}`);
    for (let attempt = 0;; attempt++) {
      if (this.#signal.aborted) throw this.#timeout(sent);
      // The header map is built per attempt and dropped with it: the token
      // string lives only while this request is in flight.
      const headers: Record<string, string> = {};
      if (this.#namespace) headers["X-Vault-Namespace"] = this.#namespace;
      if (sent.token) headers["X-Vault-Token"] = this.#token.header() ?? "";
      if (sent.body) headers["Content-Type"] = "application/json";
      this.#requests++;
      let res: TransportResponse;
      try {
        res = await this.#transport.send({
          method,
          url,
          headers,
          body: sent.body,
          signal: this.#signal,
        });
      } catch (e) {
        if (this.#signal.aborted) throw this.#timeout(sent);
        const f = classifyFailure(e, this.#origin, this.#serverName);
        if (!f.retryable || attempt >= this.#maxRetries) {
          throw attempt > 0
            ? new VaultError(
              f.error.kind,
              `${f.error.message} (${attempt + 1} attempts)`,
              { path: sent.path },
            )
            : new VaultError(f.error.kind, f.error.message, {
              path: sent.path,
            });
        }
        await sleep(retryDelayMs(attempt, null), this.#signal);
        continue;
      }
      if (isRetryableStatus(res.status) && attempt < this.#maxRetries) {
        const retryAfter = res.headers.get("retry-after");
        const delay = retryDelayMs(attempt, retryAfter);
        const left = this.#deadlineAt - Date.now();
        if (delay >= left) {
          // Waiting would only end in "no answer within": say why now.
          const err = this.#tooLate(res, sent, retryAfter, delay, left);
          res.body.fill(0);
          throw err;
        }
        res.body.fill(0);
        log("vault").debug("retrying", {
          what: sent.what,
          status: res.status,
          delayMs: Math.round(delay),
        });
        await sleep(delay, this.#signal);
        continue;
      }
      return res;
    }
  }

  /** A retry the deadline leaves no time for: fail now, saying so. */
  #tooLate(
    res: TransportResponse,
    sent: Sent,
    retryAfter: string | null,
    delay: number,
    left: number,
  ): VaultError {
    const asked = parseRetryAfterMs(retryAfter);
    const wait = asked !== undefined && asked >= delay
      ? `asked to retry after ${retryAfter!.trim()} (Retry-After, ` +
        `${Math.round(asked / 1000)} s)`
      : `would be retried after ${Math.round(delay)} ms`;
    const timeout = `${this.#config.source("VAULT_CLIENT_TIMEOUT")}=${
      this.#config.string("VAULT_CLIENT_TIMEOUT")
    }`;
    const kind = res.status === 429
      ? "rate_limited"
      : res.status === 503
      ? "sealed"
      : "server";
    return new VaultError(
      kind,
      `${sent.what}: the server answered ${res.status} and ${wait}, more ` +
        `than the ${Math.max(0, Math.round(left))} ms left of ${timeout}; ` +
        `failing now instead of waiting (raise ${timeout.split("=")[0]}, ` +
        `or check the server's rate limits and health)`,
      { path: sent.path, status: res.status },
    );
  }

  #timeout(sent: Sent): VaultError {
    const why = this.#deadline.aborted
      ? `no answer within ${this.#config.source("VAULT_CLIENT_TIMEOUT")}=${
        this.#config.string("VAULT_CLIENT_TIMEOUT")
      } (check that ${this.#origin} is reachable, or raise it)`
      : "aborted";
    return new VaultError("timeout", `${sent.what}: ${why}`, {
      path: sent.path,
    });
  }

  #parse(
    body: Uint8Array,
    path: string[],
    what: string,
    secretPath?: string,
  ): JsonSpan | undefined {
    try {
      return findPath(body, path);
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      throw new VaultError(
        "bad_response",
        `${what}: ${this.#origin} answered with a body that is not valid ` +
          `JSON (at byte ${e.offset}); is VAULT_ADDR a Vault server?`,
        { path: secretPath },
      );
    }
  }

  // -- KV mounts -------------------------------------------------------------

  /** Looks up the mount of `path` (sys/internal/ui/mounts/<path>). */
  async #lookupMount(path: string): Promise<Mount> {
    const what = `looking up the mount of ${path}`;
    const res = await this.#send("GET", `sys/internal/ui/mounts/${path}`, {
      token: true,
      what,
      path,
    });
    try {
      if (res.status === 404) return legacyMount(path);
      if (res.status !== 200) {
        throw statusError(res, what, path, this.#maxRetries, {
          403: `the token's policies must allow read on ${path} ` +
            "(the preflight sys/internal/ui/mounts/<path> needs any " +
            "capability on it)",
        });
      }
      const mountSpan = this.#parse(res.body, ["data", "path"], what, path);
      const verSpan = findPath(res.body, ["data", "options", "version"]);
      return mountFromAnswer(
        path,
        mountSpan?.kind === "string"
          ? decodeString(res.body, mountSpan)
          : undefined,
        verSpan?.kind === "string"
          ? decodeString(res.body, verSpan)
          : undefined,
      );
    } finally {
      res.body.fill(0);
    }
  }
}
