/**
 * VaultClient: one server, one transport, one token. Logs in, tells KV v1
 * from v2 per mount, reads secrets as bytes with retries under one deadline.
 * It never writes a value anywhere; `fetchSecrets` and `check` decide that.
 */
import type { Config } from "../config/parse.ts";
import { log } from "../log.ts";
import { classifyFailure } from "./classify_failure.ts";
import { createTransport } from "./create_transport.ts";
import { VaultError } from "./errors.ts";
import {
  decodeInto,
  decodeString,
  findPath,
  type JsonSpan,
  JsonSyntaxError,
  maxDecodedLength,
  objectMembers,
} from "./json_bytes.ts";
import { type AuthMethod, loginRequest } from "./login_request.ts";
import type { PathRead, SecretPlan } from "./secret_plan.ts";
import { responseErrors } from "./response_errors.ts";
import {
  isRetryableStatus,
  parseRetryAfterMs,
  retryDelayMs,
} from "./retry_policy.ts";
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

/** What `check` found for one path: key names only. */
export interface CheckResult {
  path: string;
  version?: number;
  kvVersion: 1 | 2;
  /** Every key the secret holds. */
  keys: string[];
}

interface Mount {
  path: string; // "secret/"
  version: 1 | 2;
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

function firstSegment(path: string): string {
  return path.split("/")[0];
}

/**
 * A client for one Vault/OpenBao server.
 *
 * @example
 * ```ts
 * const client = VaultClient.create(parseConfig(Deno.env.toObject()));
 * try {
 *   await client.login();
 *   const results = await client.check(planSecrets(config, env));
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
  /** Which transport carries the requests. */
  readonly transportKind: Transport["kind"];
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
  readonly #mounts: Mount[] = [];
  readonly #preflights = new Map<string, Promise<unknown>>();
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
    this.transportKind = this.#transport.kind;
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
      if (res.status !== 200) throw this.#loginError(res, req.method, what);
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
    const mount = await this.#mountOf(read.path);
    const apiPath = this.#apiPath(read.path, mount);
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
    const res = await this.#send("GET", apiPath + query, {
      token: true,
      what,
      path: read.path,
    });
    try {
      if (res.status !== 200) {
        throw this.#readError(res, read, mount, apiPath, what);
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
        apiPath,
        kvVersion: mount.version,
        body: res.body,
        data,
      };
    } catch (e) {
      res.body.fill(0);
      throw e;
    }
  }

  /**
   * Dry run for the `check` command: every path in `plan` is read and each
   * mapped key checked present. Values are not copied anywhere: each body is
   * zeroed before the next step. Throws the first failure in plan order.
   */
  async check(plan: SecretPlan): Promise<CheckResult[]> {
    if (!this.#token.hasToken) await this.login();
    const settled = await Promise.allSettled(
      plan.reads.map((r) => this.readSecret(r)),
    );
    const results: CheckResult[] = [];
    let failure: unknown;
    for (const s of settled) {
      if (s.status === "rejected") {
        failure ??= s.reason;
        continue;
      }
      const secret = s.value;
      try {
        const keys = objectMembers(secret.body, secret.data).map(([k]) => k);
        for (const t of secret.read.targets) {
          if (!keys.includes(t.field)) {
            failure ??= missingKey(secret.read, t.field, t.source, keys);
          }
        }
        results.push({
          path: secret.read.path,
          version: secret.read.version,
          kvVersion: secret.kvVersion,
          keys,
        });
      } finally {
        secret.body.fill(0);
      }
    }
    if (failure) throw failure;
    return results;
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

  #cachedMount(path: string): Mount | undefined {
    return this.#mounts.find((m) => (path + "/").startsWith(m.path));
  }

  /**
   * The mount of `path` from `sys/internal/ui/mounts/<path>`, cached per
   * mount. Concurrent lookups under one first segment wait for each other,
   * so paths on one mount cost one preflight.
   */
  async #mountOf(path: string): Promise<Mount> {
    const seg = firstSegment(path);
    for (;;) {
      const cached = this.#cachedMount(path);
      if (cached) return cached;
      const pending = this.#preflights.get(seg);
      if (!pending) break;
      await pending.catch(() => {});
      if (this.#preflights.get(seg) === pending) this.#preflights.delete(seg);
    }
    const p = this.#preflight(path);
    this.#preflights.set(seg, p);
    try {
      return await p;
    } finally {
      if (this.#preflights.get(seg) === p) this.#preflights.delete(seg);
    }
  }

  async #preflight(path: string): Promise<Mount> {
    const what = `looking up the mount of ${path}`;
    const res = await this.#send("GET", `sys/internal/ui/mounts/${path}`, {
      token: true,
      what,
      path,
    });
    try {
      if (res.status === 404) {
        // Vault's CLI treats 404 (servers before 0.10) as KV v1.
        const m: Mount = { path: firstSegment(path) + "/", version: 1 };
        this.#mounts.push(m);
        return m;
      }
      if (res.status !== 200) {
        throw this.#statusError(res, what, path, {
          403: `the token's policies must allow read on ${path} ` +
            "(the preflight sys/internal/ui/mounts/<path> needs any " +
            "capability on it)",
        });
      }
      const mountSpan = this.#parse(res.body, ["data", "path"], what, path);
      const verSpan = findPath(res.body, ["data", "options", "version"]);
      const mountPath = mountSpan?.kind === "string"
        ? decodeString(res.body, mountSpan)
        : firstSegment(path) + "/";
      const version = verSpan?.kind === "string" &&
          decodeString(res.body, verSpan) === "2"
        ? 2
        : 1;
      const m: Mount = {
        path: mountPath.endsWith("/") ? mountPath : mountPath + "/",
        version,
      };
      if (!(path + "/").startsWith(m.path)) {
        // A namespace-qualified answer; key the cache on the path itself.
        m.path = path.slice(0, path.indexOf("/") + 1) || path + "/";
      }
      this.#mounts.push(m);
      return m;
    } finally {
      res.body.fill(0);
    }
  }

  /**
   * The API path: KV v2 needs `data/` after the mount. A path that already
   * has it (as cloudtaser and vault-env references write them) is kept; one
   * without gets it inserted, as `vault kv get` does.
   */
  #apiPath(path: string, mount: Mount): string {
    if (mount.version === 1) return path;
    const rest = path.slice(mount.path.length);
    return rest.startsWith("data/") ? path : `${mount.path}data/${rest}`;
  }

  // -- errors ----------------------------------------------------------------

  #statusError(
    res: TransportResponse,
    what: string,
    path: string | undefined,
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
        `${what}: still rate limited (429) after ${this.#maxRetries} ` +
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

  #loginError(
    res: TransportResponse,
    method: AuthMethod,
    what: string,
  ): VaultError {
    if (res.status === 503 || res.status === 429) {
      return this.#statusError(res, what, undefined);
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
        `the kubernetes auth role "${
          this.#config.string("VAULT_AUTH_ROLE")
        }" (VAULT_AUTH_ROLE) does not bind this service account or its ` +
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

  #readError(
    res: TransportResponse,
    read: PathRead,
    mount: Mount,
    apiPath: string,
    what: string,
  ): VaultError {
    const detail = { path: read.path, status: res.status };
    if (res.status === 404) {
      if (mount.version === 2) {
        const gone = this.#deletion(res.body);
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
    return this.#statusError(res, what, read.path, {
      403: `the token's policies must grant read on ${apiPath}`,
    });
  }

  /** KV v2 answers 404 with metadata for a deleted or destroyed version. */
  #deletion(body: Uint8Array): string | undefined {
    try {
      const destroyed = findPath(body, ["data", "metadata", "destroyed"]);
      const time = findPath(body, ["data", "metadata", "deletion_time"]);
      const version = findPath(body, ["data", "metadata", "version"]);
      const v = version?.kind === "number"
        ? ` ${numberText(body, version)}`
        : "";
      if (destroyed?.kind === "true") return `version${v} was destroyed`;
      if (time?.kind === "string" && decodeString(body, time) !== "") {
        return `version${v} was deleted at ${decodeString(body, time)}`;
      }
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
    }
    return undefined;
  }
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
