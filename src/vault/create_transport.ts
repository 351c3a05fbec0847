/** Picks the transport the TLS settings need. */
import { log } from "../log.ts";
import { fetchTransport } from "./fetch_transport.ts";
import type { TlsSettings } from "./tls_settings.ts";
import type { Transport } from "./transport.ts";

/**
 * `fetch` over `Deno.createHttpClient` unless the settings need what only
 * `node:https` offers. VAULT_SKIP_VERIFY warns at `warning` level every time.
 */
export function createTransport(tls: TlsSettings): Transport {
  if (tls.skipVerify) {
    log("vault").warn(
      "VAULT_SKIP_VERIFY is set: the server certificate is NOT verified, so " +
        "anyone between this pod and Vault can read the token and every " +
        "secret; the protection score is reduced",
    );
  }
  return tls.skipVerify || tls.serverName
    ? lazyNodeTransport(tls)
    : fetchTransport(tls);
}

/**
 * node:https pulls in Deno's Node compatibility layer, about 50 ms of
 * start-up: load it only when this transport is really used.
 */
function lazyNodeTransport(tls: TlsSettings): Transport {
  let inner: Promise<Transport> | undefined;
  const get = () =>
    inner ??= import("./node_transport.ts").then((m) => m.nodeTransport(tls));
  return {
    kind: "node-https",
    send: async (req) => (await get()).send(req),
    close() {
      inner?.then((t) => t.close());
    },
  };
}
