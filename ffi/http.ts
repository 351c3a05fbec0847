/**
 * Typed bindings to `c/shim/http.c`: HTTP/1.1 over OpenSSL inside the shim
 * (the file says why not `fetch`). src/vault/native_transport.ts is the one
 * user.
 */
import { HTTP, HTTP_FAILURES, type HttpFailure } from "./constants.ts";
import { nativeCall, poolCall } from "./call.ts";

/**
 * Starts OpenSSL's one-time set-up on one of Deno's blocking threads and
 * returns at once (`ct_http_warm`): the client made later then costs 0.2 ms
 * instead of 2. Holds nothing secret; a failure shows at the real set-up.
 */
export function warmTls(): void {
  poolCall("http_warm").catch(() => {});
}

/** A failed exchange or set-up: `failure` says why, `detail` the rest. */
export class HttpError extends Error {
  constructor(readonly failure: HttpFailure, readonly detail: string) {
    super(detail ? `${failure}: ${detail}` : failure);
    this.name = "HttpError";
  }
}

/** What `clientPair` found wrong (ct/http.h CT_HTTP_PAIR_*). */
export type PairProblem = "cert" | "key" | "mismatch";

/** A refused client certificate or key. */
export class PairError extends Error {
  constructor(readonly problem: PairProblem, readonly detail: string) {
    super(`${problem}: ${detail}`);
    this.name = "PairError";
  }
}

/** A request in three parts (see {@link HttpClient.exchange}). */
export interface HttpRequest {
  head: Uint8Array;
  token?: Uint8Array;
  tail: Uint8Array;
}

/** An answer; the caller wipes `body`. */
export interface HttpAnswer {
  status: number;
  body: Uint8Array;
  retryAfter: string | null;
}

const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");

/**
 * One client: its TLS settings and at most one connection, one exchange at
 * a time (the caller serializes).
 *
 * @example
 * ```ts
 * const c = HttpClient.create({ plain: false, skipVerify: false });
 * c.addCa(caPem);
 * c.target("127.0.0.1", "8200", "127.0.0.1");
 * const a = await c.exchange({ head, tail }, 30_000);
 * a.body.fill(0);
 * c.close();
 * ```
 */
export class HttpClient {
  #h: bigint;
  #inFlight: Promise<unknown> | undefined;
  #closed = false;

  private constructor(h: bigint) {
    this.#h = h;
  }

  /** A client for http:// (`plain`) or https://. */
  static create(opts: { plain: boolean; skipVerify: boolean }): HttpClient {
    const out = new BigUint64Array(1);
    const flags = (opts.plain ? HTTP.PLAIN : 0) |
      (opts.skipVerify ? HTTP.SKIP_VERIFY : 0);
    const r = nativeCall("http_new", flags, new Uint8Array(out.buffer));
    if (r < 0) {
      throw new HttpError(
        HTTP_FAILURES[-r] as HttpFailure,
        "creating the HTTP client (the shim's zeroing allocator is not " +
          "installed, or out of memory)",
      );
    }
    return new HttpClient(out[0]);
  }

  #text(what: 0 | 1): string {
    const buf = new Uint8Array(512);
    const n = nativeCall("http_text", this.#h, what, buf, buf.length);
    return new TextDecoder().decode(buf.subarray(0, n));
  }

  /** Trusts the certificates in `pem`; returns how many. */
  addCa(pem: Uint8Array): number {
    const r = nativeCall("http_ca", this.#h, pem, pem.length);
    if (r < 0) throw new HttpError("setup", this.#text(0));
    return r;
  }

  /** The client certificate (with its chain) and its key, both PEM. */
  clientPair(cert: Uint8Array, key: Uint8Array): void {
    const r = nativeCall(
      "http_client_pair",
      this.#h,
      cert,
      cert.length,
      key,
      key.length,
    );
    if (r < 0) throw new PairError(HTTP.PAIR[-r] as PairProblem, this.#text(0));
  }

  /** Where to connect, and the name the server certificate must have. */
  target(host: string, port: string, name: string): void {
    const r = nativeCall(
      "http_target",
      this.#h,
      cstr(host),
      cstr(port),
      cstr(name),
    );
    if (r < 0) throw new HttpError("setup", this.#text(0));
  }

  /**
   * Sends a request and reads the answer, within `timeoutMs`: `request.head`
   * (request line and headers, ending in `X-Vault-Token: ` when there is a
   * token), `request.token` (read in place: a view of the token's region)
   * and `request.tail` (the headers' end and the body). The shim joins them
   * only once the connection is up and wipes the join after the write
   * (c/shim/http.c); the caller wipes `tail` once this settles.
   */
  async exchange(request: HttpRequest, timeoutMs: number): Promise<HttpAnswer> {
    if (this.#closed) throw new HttpError("cancelled", "the client is closed");
    const ms = Math.max(1, Math.min(Math.ceil(timeoutMs), 0x7fffffff));
    const { head, token, tail } = request;
    const call = poolCall(
      "http_exchange",
      this.#h,
      head,
      head.length,
      token ?? null,
      token?.length ?? 0,
      tail,
      tail.length,
      ms,
    );
    this.#inFlight = call;
    const r = await call.finally(() => this.#inFlight = undefined);
    if (r < 0) {
      throw new HttpError(HTTP_FAILURES[-r] as HttpFailure, this.#text(0));
    }
    const body = new Uint8Array(nativeCall("http_body_len", this.#h));
    nativeCall("http_body", this.#h, body, body.length);
    const retryAfter = this.#text(1);
    return { status: r, body, retryAfter: retryAfter || null };
  }

  /**
   * Drops the client key (and certificate) from OpenSSL: the connection up
   * keeps working, a new one presents no client certificate.
   */
  forgetKey(): void {
    if (!this.#closed) nativeCall("http_forget_key", this.#h);
  }

  /** Wakes an exchange in flight: it fails with `cancelled`. */
  cancel(): void {
    if (!this.#closed) nativeCall("http_cancel", this.#h);
  }

  /**
   * Closes the connection and frees the client (after an exchange in
   * flight, which is cancelled, has returned). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    const h = this.#h;
    const free = () => nativeCall("http_free", h);
    if (this.#inFlight) {
      nativeCall("http_cancel", h);
      this.#inFlight.then(free, free);
    } else {
      free();
    }
    this.#closed = true;
  }
}
