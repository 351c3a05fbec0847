/**
 * VaultClient: one server, one transport, one token. Logs in, tells KV v1
 * from v2 per mount, reads secrets as bytes with retries under one deadline.
 * It never writes a value anywhere; `fetchSecrets` decides that. Mount
 * lookup is kv_mounts.ts, the wording of failed answers status_errors.ts.
 */
import type { Config } from "../config/parse.ts";
import { log } from "../log.ts";
import { classifyFailure } from "./classify_failure.ts";
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
import { after } from "../timers.ts";
import { nativeTransport } from "./native_transport.ts";
import { tlsSettings } from "./tls_settings.ts";
import { TokenStore } from "./token_store.ts";
import type { Transport, TransportResponse } from "./transport.ts";

/** Options of {@link VaultClient.create}. */
export interface VaultClientOptions {
  /** Aborts everything (in addition to VAULT_CLIENT_TIMEOUT). */
  signal?: AbortSignal;
}

/**
 * What the server said about the token at login or renewal (no secret):
 * `ttlMs` 0 means it never expires (a root token).
 */
export interface TokenLease {
  ttlMs: number;
  renewable: boolean;
}

/** What {@link VaultClient.renewToken} got. */
export type TokenRenewal =
  | { renewed: true; lease: TokenLease }
  | { renewed: false; status: number; why: string };

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
  /** KV v2: `data.metadata.version` of what was read. */
  version?: number;
  /**
   * A dynamic secret's lease (a non-KV mount): `id` spans the lease id
   * inside `body` (a credential: it goes to the token region only).
   */
  lease?: { id: JsonSpan; durationMs: number; renewable: boolean };
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
      cancel();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const cancel = after(ms, done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * `{"lease_id":"<id>"<rest>}` from the id's bytes (no JS string holds it);
 * undefined when the id holds anything JSON would need escaped (lease ids
 * are mount paths and a nonce).
 */
function leaseBody(id: Uint8Array, rest: string): Uint8Array | undefined {
  if (!id.every((b) => b > 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c)) {
    return undefined;
  }
  const enc = new TextEncoder();
  const head = enc.encode('{"lease_id":"');
  const tail = enc.encode(`"${rest}}`);
  const body = new Uint8Array(head.length + id.length + tail.length);
  body.set(head);
  body.set(id, head.length);
  body.set(tail, head.length + id.length);
  return body;
}

/** The lease of a dynamic secret's answer; undefined without a lease id. */
function leaseOf(
  body: Uint8Array,
): { id: JsonSpan; durationMs: number; renewable: boolean } | undefined {
  const id = findPath(body, ["lease_id"]);
  if (id?.kind !== "string" || id.end - id.start <= 2) return undefined;
  return {
    id,
    durationMs: (numberAt(body, ["lease_duration"]) ?? 0) * 1000,
    renewable: findPath(body, ["renewable"])?.kind === "true",
  };
}

/** A JSON number (a TTL, a version) at `path`, or undefined. */
function numberAt(body: Uint8Array, path: string[]): number | undefined {
  const span = findPath(body, path);
  if (span?.kind !== "number") return undefined;
  let text = "";
  for (let i = span.start; i < span.end; i++) {
    text += String.fromCharCode(body[i]);
  }
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
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
  #token = new TokenStore();
  #tokenLease: TokenLease | undefined;
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
    this.#transport = nativeTransport(new URL(this.#origin), tls);
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

  /** What the last login or renewal said about the token's lifetime. */
  get tokenLease(): TokenLease | undefined {
    return this.#tokenLease;
  }

  /**
   * Uses `bytes` as the token (a refresh process: the token region's
   * record). The caller zeroes `bytes`.
   */
  useToken(bytes: Uint8Array): void {
    this.#token.setFromBytes(bytes, false);
  }

  /**
   * Revokes every lease kept beside the token (`LEASE_<i>`), then the
   * token: a start that fails after dynamic reads leaves no credential.
   */
  async revokeLeasesAndToken(): Promise<TokenRevocation> {
    const region = this.#token.region;
    const leases = region?.keys().filter((k) => k.startsWith("LEASE_")) ?? [];
    await Promise.all(leases.map((k) => this.revokeLease(region!.value(k)!)));
    return await this.revokeToken();
  }

  /** Keeps a lease id (`span` in `body`) in the token's region as `key`. */
  keepLease(key: string, body: Uint8Array, span: JsonSpan): void {
    this.#token.appendFromJson(key, body, span);
  }

  /**
   * Drops the client key (VAULT_CLIENT_KEY, parsed by OpenSSL) once no new
   * connection needs it: a request that would need one fails instead.
   */
  forgetClientKey(): void {
    this.#transport.forgetKey();
  }

  /**
   * Hands the token's store to the caller, who keeps it past {@link close}
   * (the token region of docs/refresh.md); the client has no token after.
   */
  releaseToken(): TokenStore {
    const t = this.#token;
    this.#token = new TokenStore();
    return t;
  }

  /**
   * `auth/token/renew-self`: the token's TTL starts again (up to its max
   * TTL). A refusal is data, not a throw; a transport failure or timeout
   * throws a {@link VaultError}.
   */
  async renewToken(): Promise<TokenRenewal> {
    const what = "renewing the token (auth/token/renew-self)";
    const res = await this.#send("POST", "auth/token/renew-self", {
      token: true,
      what,
      body: new TextEncoder().encode("{}"),
    });
    try {
      if (res.status !== 200) {
        return {
          renewed: false,
          status: res.status,
          why: `${what}: HTTP ${res.status}`,
        };
      }
      return { renewed: true, lease: this.#leaseOf(res.body, what) };
    } finally {
      res.body.fill(0);
    }
  }

  /**
   * KV v2 `current_version` of `read`'s path from `metadata/` (no secret
   * crosses the wire); undefined on a KV v1 mount.
   */
  async currentVersion(read: PathRead): Promise<number | undefined> {
    const mount = await this.#mounts.of(
      read.path,
      (p) => this.#lookupMount(p),
    );
    if (mount.version !== 2) return undefined;
    const data = apiPath(read.path, mount);
    const meta = mount.path + "metadata/" +
      data.slice(mount.path.length + "data/".length);
    const what = `reading the metadata of ${read.path}`;
    const res = await this.#send("GET", meta, {
      token: true,
      what,
      path: read.path,
    });
    try {
      if (res.status !== 200) {
        throw statusError(res, what, read.path, this.#maxRetries, {
          403: `the token's policies must allow read on ${meta}`,
        });
      }
      const v = numberAt(res.body, ["data", "current_version"]);
      if (v === undefined) {
        throw new VaultError(
          "bad_response",
          `${what}: the answer has no data.current_version`,
          { path: read.path, status: res.status },
        );
      }
      return v;
    } finally {
      res.body.fill(0);
    }
  }

  /**
   * `sys/leases/renew` of one lease id for `incrementMs` (bytes from the
   * token region; the caller zeroes them). A refusal is data; a transport
   * failure throws.
   */
  async renewLease(
    id: Uint8Array,
    incrementMs: number,
  ): Promise<
    { renewed: true; durationMs: number } | { renewed: false; why: string }
  > {
    const what = "renewing a lease (sys/leases/renew)";
    const body = leaseBody(id, `,"increment":${Math.ceil(incrementMs / 1000)}`);
    if (!body) return { renewed: false, why: `${what}: malformed lease id` };
    try {
      const res = await this.#send("POST", "sys/leases/renew", {
        token: true,
        what,
        body,
      });
      try {
        if (res.status !== 200) {
          return { renewed: false, why: `${what}: HTTP ${res.status}` };
        }
        const d = numberAt(res.body, ["lease_duration"]);
        return d === undefined
          ? { renewed: false, why: `${what}: no lease_duration` }
          : { renewed: true, durationMs: d * 1000 };
      } finally {
        res.body.fill(0);
      }
    } finally {
      body.fill(0);
    }
  }

  /**
   * `sys/leases/revoke` of one lease id (bytes from the token region; the
   * caller zeroes them). Never throws: the outcome says what happened.
   */
  async revokeLease(id: Uint8Array): Promise<TokenRevocation> {
    const what = "revoking a lease (sys/leases/revoke)";
    const body = leaseBody(id, "");
    if (!body) return { revoked: false, why: `${what}: malformed lease id` };
    try {
      const res = await this.#send("POST", "sys/leases/revoke", {
        token: true,
        what,
        body,
      });
      res.body.fill(0);
      return res.status === 204 || res.status === 200
        ? { revoked: true }
        : { revoked: false, why: `${what}: HTTP ${res.status}` };
    } catch (e) {
      return { revoked: false, why: (e as Error).message };
    } finally {
      body.fill(0);
    }
  }

  /** The token's lifetime in a login or renewal answer. */
  #leaseOf(body: Uint8Array, what: string): TokenLease {
    const ttl = numberAt(body, ["auth", "lease_duration"]);
    if (ttl === undefined) {
      throw new VaultError(
        "bad_response",
        `${what}: the answer holds no auth.lease_duration`,
      );
    }
    const renewable = findPath(body, ["auth", "renewable"])?.kind === "true";
    return { ttlMs: ttl * 1000, renewable };
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
      const sending = this.#send("POST", `${req.mount}/login`, {
        body: req.body,
        what,
      });
      // The request is out (the shim's pool thread holds the exchange).
      this.#token.reserve();
      res = await sending;
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
      this.#tokenLease = this.#leaseOf(res.body, what);
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
    if (read.version !== undefined && mount.dynamic) {
      throw new VaultError(
        "config",
        `${read.path}: version ${read.version} requested, but ${mount.path} ` +
          "is not a KV mount (a dynamic secret has no versions)",
        { path: read.path },
      );
    }
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
        version: mount.version === 2 && !mount.dynamic
          ? numberAt(res.body, ["data", "metadata", "version"])
          : undefined,
        lease: mount.dynamic ? leaseOf(res.body) : undefined,
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
      const headers: Record<string, string> = {};
      if (this.#namespace) headers["X-Vault-Namespace"] = this.#namespace;
      if (sent.body) headers["Content-Type"] = "application/json";
      this.#requests++;
      let res: TransportResponse;
      try {
        res = await this.#transport.send({
          method,
          url,
          headers,
          token: sent.token ? this.#token.bytes() : undefined,
          body: sent.body,
          signal: this.#signal,
          timeoutMs: this.#deadlineAt - Date.now(),
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
        const retryAfter = res.retryAfter;
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
      const typeSpan = findPath(res.body, ["data", "type"]);
      return mountFromAnswer(
        path,
        mountSpan?.kind === "string"
          ? decodeString(res.body, mountSpan)
          : undefined,
        verSpan?.kind === "string"
          ? decodeString(res.body, verSpan)
          : undefined,
        typeSpan?.kind === "string"
          ? decodeString(res.body, typeSpan)
          : undefined,
      );
    } finally {
      res.body.fill(0);
    }
  }
}
