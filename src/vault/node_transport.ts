/**
 * The fallback transport, `node:https`: only it can verify against a server
 * name other than the URL host (VAULT_TLS_SERVER_NAME) or skip verification
 * (VAULT_SKIP_VERIFY). HTTP/1.1 with keep-alive.
 *
 * `node:https` is imported inside {@linkcode nodeTransport}, not at the top:
 * a bundle (`deno task build`) inlines this module and would hoist a static
 * import, loading the Node compatibility layer (about 25 ms of CPU) on every
 * start, also those that never use this transport.
 */
import type { TlsSettings } from "./tls_settings.ts";
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from "./transport.ts";

/** A `node:https` transport with one keep-alive agent. */
export async function nodeTransport(tls: TlsSettings): Promise<Transport> {
  const { default: https } = await import("node:https");
  const agent = new https.Agent({ keepAlive: true });
  return {
    kind: "node-https",
    send(req: TransportRequest): Promise<TransportResponse> {
      return new Promise((resolve, reject) => {
        const r = https.request(
          {
            agent,
            method: req.method,
            host: req.url.hostname.replace(/^\[|\]$/g, ""),
            port: req.url.port || 443,
            path: req.url.pathname + req.url.search,
            headers: req.headers,
            ca: tls.caCerts.length ? tls.caCerts : undefined,
            cert: tls.cert,
            key: tls.key,
            servername: tls.serverName,
            rejectUnauthorized: !tls.skipVerify,
            signal: req.signal,
          },
          (res) => {
            const chunks: Uint8Array[] = [];
            res.on("data", (c: Uint8Array) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () => {
              const body = new Uint8Array(
                chunks.reduce((n, c) => n + c.length, 0),
              );
              let at = 0;
              for (const c of chunks) {
                body.set(c, at);
                at += c.length;
                c.fill(0);
              }
              const headers = new Headers();
              for (const [k, v] of Object.entries(res.headers)) {
                if (typeof v === "string") headers.set(k, v);
              }
              resolve({ status: res.statusCode ?? 0, headers, body });
            });
          },
        );
        r.on("error", reject);
        r.end(req.body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
