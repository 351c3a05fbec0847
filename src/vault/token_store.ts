/**
 * The Vault token, kept in its own small SecretRegion: never the secrets
 * region (that one is handed to the app), never a long-lived JS string.
 */
import { SecretRegion } from "../region/secret_region.ts";
import {
  decodeInto,
  type JsonSpan,
  maxDecodedLength,
} from "./json_bytes/mod.ts";

const KEY = "VAULT_TOKEN";

/**
 * Holds one token, as bytes in a SecretRegion only.
 *
 * @example
 * ```ts
 * const store = new TokenStore();
 * store.setFromJson(loginBody, tokenSpan);
 * loginBody.fill(0);
 * await transport.send({ ...request, token: store.bytes() });
 * store.wipe();
 * ```
 */
export class TokenStore {
  #region: SecretRegion | null = null;
  /** An empty region made ahead of the store (see {@link reserve}). */
  #spare: SecretRegion | null = null;
  #fromEnv = false;

  /** True once a token is stored. */
  get hasToken(): boolean {
    return this.#region?.has(KEY) ?? false;
  }

  /**
   * True when the token lives only in a memfd_secret mapping: it was not
   * read from VAULT_TOKEN (the environment is readable through
   * /proc/<pid>/environ) and the region is secretmem.
   */
  get protected(): boolean {
    return this.hasToken && !this.#fromEnv &&
      this.#region!.backing === "memfd_secret";
  }

  /** Stores a JSON string value (the login response's `client_token`). */
  setFromJson(body: Uint8Array, span: JsonSpan): void {
    const region = this.#fresh();
    const w = region.beginRecord(KEY, maxDecodedLength(span));
    let n = 0;
    try {
      n = decodeInto(body, span, w.view);
    } catch (e) {
      w.view.fill(0);
      w.commit(0);
      throw e;
    }
    w.commit(n);
  }

  /**
   * Stores raw token bytes (from VAULT_TOKEN_FILE, trimmed, or VAULT_TOKEN).
   * The caller zeroes `bytes`.
   */
  setFromBytes(bytes: Uint8Array, fromEnv: boolean): void {
    this.#fresh().append(KEY, bytes);
    this.#fromEnv = fromEnv;
  }

  /**
   * The token's bytes for one request's `X-Vault-Token` header: a view of
   * the region (the transport copies it into the request it wipes), never a
   * JS string. Valid until the next store or {@link wipe}.
   */
  bytes(): Uint8Array | undefined {
    return this.#region?.value(KEY);
  }

  /**
   * The region the token lives in: docs/refresh.md's token region when the
   * token outlives the start (null before a token is stored).
   */
  get region(): SecretRegion | null {
    return this.#region;
  }

  /** Appends a record beside the token (a lease id, `LEASE_<i>`). */
  appendRecord(key: string, bytes: Uint8Array): void {
    if (!this.#region) throw new Error("no token stored");
    this.#region.append(key, bytes);
  }

  /**
   * Appends a record decoded from a JSON string in `body` (a lease id,
   * straight from the response bytes into the region).
   */
  appendFromJson(key: string, body: Uint8Array, span: JsonSpan): void {
    if (!this.#region) throw new Error("no token stored");
    const w = this.#region.beginRecord(key, maxDecodedLength(span));
    let n = 0;
    try {
      n = decodeInto(body, span, w.view);
    } catch (e) {
      w.view.fill(0);
      w.commit(0);
      throw e;
    }
    w.commit(n);
  }

  /**
   * Makes the region the next token goes into now, while a login is on the
   * wire: storing its answer then waits on no memfd_secret, mmap or mlock
   * (about 1 ms of a start). A failure here is left to the store, which
   * makes the region again and reports it.
   */
  reserve(): void {
    try {
      this.#spare ??= SecretRegion.create({ initialCapacity: 1024 });
    } catch {
      // reported by #fresh
    }
  }

  /** Zeroes and unmaps the region (and a reserved one). Idempotent. */
  wipe(): void {
    this.#region?.wipe();
    this.#region = null;
    this.#spare?.wipe();
    this.#spare = null;
  }

  #fresh(): SecretRegion {
    const spare = this.#spare;
    this.#spare = null;
    this.wipe();
    this.#fromEnv = false;
    this.#region = spare ?? SecretRegion.create({ initialCapacity: 1024 });
    return this.#region;
  }
}
