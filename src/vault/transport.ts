/**
 * One HTTP exchange with the server, body as bytes. The implementation is
 * native_transport.ts (HTTP/1.1 over OpenSSL in the shim, one connection,
 * one request at a time).
 */

/** A request; the caller wipes `body` after `send` settles. */
export interface TransportRequest {
  method: "GET" | "POST" | "PUT" | "LIST";
  url: URL;
  /** Headers that are not secret (never the token: {@link token}). */
  headers: Record<string, string>;
  /**
   * Sent as `X-Vault-Token`: a view of the token's region, read there by the
   * shim once the connection is up; the token is never a JS string and
   * never copied to the JS heap.
   */
  token?: Uint8Array;
  body?: Uint8Array;
  /** Aborting it cancels the exchange in flight. */
  signal: AbortSignal;
  /** The exchange's own deadline (the client's VAULT_CLIENT_TIMEOUT left). */
  timeoutMs: number;
}

/** A response; the caller zeroes `body` when done with it. */
export interface TransportResponse {
  status: number;
  /** The Retry-After header, when the server sent one. */
  retryAfter: string | null;
  body: Uint8Array;
}

/** Sends requests; `close()` releases the connection. */
export interface Transport {
  send(req: TransportRequest): Promise<TransportResponse>;
  /**
   * Drops the client key (mTLS) from memory: the connection up goes on, a
   * new one has no client certificate.
   */
  forgetKey(): void;
  close(): void;
}
