/** The default transport: `fetch` over one `Deno.createHttpClient`. */
import type { TlsSettings } from "./tls_settings.ts";
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from "./transport.ts";

/**
 * A transport over one `Deno.createHttpClient`, HTTP/1.1 only, one request
 * at a time: every request of a start (login, mount lookups, reads, the
 * revocation) goes over one kept-alive TCP+TLS connection, with one
 * handshake.
 *
 * Why not HTTP/2 with the reads in flight at once: Deno's fetch leaves
 * Nagle's algorithm on (`TCP_NODELAY` 0), and over h2 the client's small
 * frames after a response (WINDOW_UPDATE, SETTINGS ack) sit unacknowledged
 * by the server's delayed ACK, so the next request waits about 40 ms: the
 * first request after the login did so in most starts measured (see
 * docs/benchmarks.md). A second HTTP/1.1 connection for concurrent requests
 * costs a handshake, and its handshake stalled the same way. One HTTP/1.1
 * request is one write, answered in full before the next is sent: no small
 * write waits for an ACK. Measured over 10 paths: 10 sequential reads cost
 * 5.8 ms of CPU and 13-30 ms, 10 reads at once over h2 5.5 ms and 18-48 ms
 * plus the stall.
 *
 * @example
 * ```ts
 * const t = fetchTransport({ caCerts: [caPem], skipVerify: false });
 * const res = await t.send({ method: "GET", url, headers: {}, signal });
 * res.body.fill(0);
 * t.close();
 * ```
 */
export function fetchTransport(tls: TlsSettings): Transport {
  const client = Deno.createHttpClient({
    caCerts: tls.caCerts,
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    http2: false,
  });
  // The request in flight (or the last one), settled either way: the next
  // one starts when it is done, so the pool never opens a second connection.
  let last: Promise<unknown> = Promise.resolve();
  async function exchange(req: TransportRequest): Promise<TransportResponse> {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body as Uint8Array<ArrayBuffer> | undefined,
      signal: req.signal,
      client,
    });
    // bytes(), never json()/text(): a string copy of a secret could not be
    // wiped. Read in full, so the connection is free for the next request.
    const body = await res.bytes();
    return { status: res.status, headers: res.headers, body };
  }
  return {
    kind: "fetch",
    send(req: TransportRequest): Promise<TransportResponse> {
      const turn = last.then(() => {
        // Aborted while it waited: never sent (fetch would say the same).
        req.signal.throwIfAborted();
        return exchange(req);
      });
      last = turn.catch(() => {});
      return turn;
    },
    close() {
      client.close();
    },
  };
}
