/**
 * One HTTP exchange with the server, body as bytes. Two implementations:
 * `fetch` through one `Deno.createHttpClient` (one HTTP/1.1 connection,
 * one request at a time: fetch_transport.ts says why) and
 * `node:https`, used only for what `Deno.createHttpClient` cannot do
 * (VAULT_TLS_SERVER_NAME other than the URL host, VAULT_SKIP_VERIFY).
 */

/** A request; `body` is zeroed by the caller after `send` settles. */
export interface TransportRequest {
  method: "GET" | "POST" | "PUT" | "LIST";
  url: URL;
  headers: Record<string, string>;
  body?: Uint8Array;
  signal: AbortSignal;
}

/** A response; the caller zeroes `body` when done with it. */
export interface TransportResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Sends requests; `close()` releases the connection(s). */
export interface Transport {
  readonly kind: "fetch" | "node-https";
  send(req: TransportRequest): Promise<TransportResponse>;
  close(): void;
}
