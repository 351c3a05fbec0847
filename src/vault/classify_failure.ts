/**
 * Turns a transport exception into a {@link VaultError} with advice, and says
 * whether it is worth retrying. The shim's HTTP client says why an exchange
 * failed as a code (ffi/constants.ts HTTP_FAILURES); its detail text is
 * OpenSSL's or the errno's, shown as is.
 */
import { HttpError } from "../../ffi/http.ts";
import { VaultError } from "./errors.ts";

/** The error and whether another attempt could succeed. */
export interface Failure {
  error: VaultError;
  retryable: boolean;
}

/**
 * Classifies a failed exchange with `addr` (VAULT_ADDR as configured).
 */
export function classifyFailure(
  e: unknown,
  addr: string,
  serverName: string | undefined,
): Failure {
  if (e instanceof VaultError) return { error: e, retryable: false };
  const failure = e instanceof HttpError ? e.failure : "connect";
  const detail = e instanceof HttpError ? e.detail : String(e);
  const final = (kind: VaultError["kind"], message: string) => ({
    error: new VaultError(kind, message),
    retryable: false,
  });
  const tls = (why: string) => final("tls", `TLS with ${addr} failed: ${why}`);
  switch (failure) {
    case "tls_verify":
      if (/issuer|self.signed|verify the first/i.test(detail)) {
        return tls(
          "the server certificate is not signed by a CA in VAULT_CACERT or " +
            "VAULT_CAPATH (check that they hold the CA that signed Vault's " +
            `certificate): ${detail}`,
        );
      }
      return tls(`certificate problem: ${detail}`);
    case "tls_name": {
      const name = serverName ?? new URL(addr).hostname;
      return tls(
        `the server certificate is not valid for ${JSON.stringify(name)} ` +
          "(check VAULT_ADDR, or set VAULT_TLS_SERVER_NAME to a name in the " +
          "certificate)",
      );
    }
    case "tls_refused":
      return tls(
        "the server rejected the TLS handshake, usually the client " +
          "certificate (check VAULT_CLIENT_CERT and VAULT_CLIENT_KEY against " +
          `the server's client CA): ${detail}`,
      );
    case "tls":
      if (/wrong version number|packet length too long/i.test(detail)) {
        return tls(
          "the server does not answer TLS (is it plain HTTP? then VAULT_ADDR " +
            `is http://...): ${detail}`,
        );
      }
      // No certificate named: an overloaded server resets handshakes too
      // (seen with 200 wrappers at once), so this one is worth another try.
      return {
        error: new VaultError(
          "tls",
          `TLS handshake with ${addr} failed: ${detail}`,
        ),
        retryable: true,
      };
    case "protocol":
      return final(
        "bad_response",
        `${addr} answered with something that is not HTTP/1.x (${detail}); ` +
          "is VAULT_ADDR a Vault server, and https:// where it serves TLS?",
      );
    case "too_large":
      return final("bad_response", `${addr}: ${detail}`);
    case "memory":
    case "setup":
      return final("connection", `talking to ${addr}: ${detail}`);
    default: // resolve, connect, closed, timeout, cancelled
      return {
        error: new VaultError(
          "connection",
          `cannot reach ${addr}: ${detail} (check VAULT_ADDR and that the ` +
            "server is running and reachable)",
        ),
        retryable: true,
      };
  }
}
