/** Picks the transport the TLS settings need. */
import { log } from "../log.ts";
import { fetchTransport } from "./fetch_transport.ts";
import { nodeTransport } from "./node_transport.ts";
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
    ? nodeTransport(tls)
    : fetchTransport(tls);
}
