/** The default transport: `fetch` over one `Deno.HttpClient`. */
import type { TlsSettings } from "./tls_settings.ts";
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from "./transport.ts";

/**
 * A transport over one `Deno.createHttpClient`: concurrent requests share one
 * HTTP/2 connection when the server offers h2 (OpenBao does).
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
  });
  return {
    kind: "fetch",
    async send(req: TransportRequest): Promise<TransportResponse> {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body as Uint8Array<ArrayBuffer> | undefined,
        signal: req.signal,
        client,
      });
      // bytes(), never json()/text(): a string copy of a secret could not be
      // wiped.
      const body = await res.bytes();
      return { status: res.status, headers: res.headers, body };
    },
    close() {
      client.close();
    },
  };
}
