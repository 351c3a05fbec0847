/**
 * Turns a transport exception into a {@link VaultError} with advice, and says
 * whether it is worth retrying. Deno's fetch puts rustls' reason in
 * `cause.message`; node:https gives OpenSSL-style codes.
 */
import { VaultError } from "./errors.ts";

/** The error and whether another attempt could succeed. */
export interface Failure {
  error: VaultError;
  retryable: boolean;
}

function describe(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 4; i++) {
    const err = cur as { message?: string; code?: string; cause?: unknown };
    if (err.code) parts.push(err.code);
    if (err.message) parts.push(err.message);
    cur = err.cause;
  }
  return parts.join(": ");
}

/**
 * Classifies a failed exchange with `addr` (VAULT_ADDR as configured).
 */
export function classifyFailure(
  e: unknown,
  addr: string,
  serverName: string | undefined,
): Failure {
  const text = describe(e);
  const tls = (why: string) => ({
    error: new VaultError("tls", `TLS with ${addr} failed: ${why}`),
    retryable: false,
  });
  if (
    /UnknownIssuer|UNABLE_TO_VERIFY|SELF_SIGNED|unable to get (local )?issuer/i
      .test(text)
  ) {
    return tls(
      "the server certificate is not signed by a CA in VAULT_CACERT or " +
        "VAULT_CAPATH (check that they hold the CA that signed Vault's " +
        "certificate)",
    );
  }
  if (/NotValidForName|ALTNAME|does not match certificate/i.test(text)) {
    const name = serverName ?? new URL(addr).hostname;
    return tls(
      `the server certificate is not valid for ${JSON.stringify(name)} ` +
        "(check VAULT_ADDR, or set VAULT_TLS_SERVER_NAME to a name in the " +
        "certificate)",
    );
  }
  if (
    /BadCertificate|CertificateRequired|UnknownCA|bad certificate|certificate required|unknown ca/i
      .test(text)
  ) {
    return tls(
      "the server rejected the TLS handshake, usually the client " +
        "certificate (check VAULT_CLIENT_CERT and VAULT_CLIENT_KEY against " +
        `the server's client CA): ${text.slice(0, 200)}`,
    );
  }
  if (/certificate|InvalidCertificate|CERT_/i.test(text)) {
    return tls(`certificate problem: ${text.slice(0, 200)}`);
  }
  if (/alert|handshake/i.test(text)) {
    // No certificate named: an overloaded server resets handshakes too (seen
    // with 200 wrappers at once), so this one is worth another attempt.
    return {
      error: new VaultError(
        "tls",
        `TLS handshake with ${addr} failed: ${text.slice(0, 200)}`,
      ),
      retryable: true,
    };
  }
  return {
    error: new VaultError(
      "connection",
      `cannot reach ${addr}: ${text.slice(0, 200)} (check VAULT_ADDR and ` +
        "that the server is running and reachable)",
    ),
    retryable: true,
  };
}
