/** The server's HCL configuration: a TLS listener on loopback, in-memory storage. */
import type { TestCerts } from "./certs.ts";

function hclValue(v: string | number | boolean): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

export function serverConfig(
  port: number,
  certs: TestCerts,
  listener: Record<string, string | number | boolean>,
): string {
  const settings: Record<string, string | number | boolean> = {
    address: `127.0.0.1:${port}`,
    tls_cert_file: certs.serverCert,
    tls_key_file: certs.serverKey,
    // Requested, not required: without tls_require_and_verify_client_cert
    // the listener asks for any certificate (the CA file is then unused by
    // the handshake) and cert auth judges it, so token, AppRole and JWT
    // logins work without one, and an untrusted certificate completes the
    // handshake and gets 400 "invalid certificate or no client certificate
    // supplied" from auth/cert/login.
    tls_client_ca_file: certs.caCert,
    max_request_json_strings: 100000,
    ...listener,
  };
  const body = Object.entries(settings)
    .map(([k, v]) => `  ${k} = ${hclValue(v)}`)
    .join("\n");
  return `storage "inmem" {}
listener "tcp" {
${body}
}
disable_clustering = true
api_addr = "https://127.0.0.1:${port}"
ui = false
`;
}
