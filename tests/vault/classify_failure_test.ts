import assert from "node:assert/strict";
import { classifyFailure } from "../../src/vault/classify_failure.ts";

const addr = "https://127.0.0.1:8200";
const err = (message: string) =>
  new TypeError("error sending request", { cause: new Error(message) });

Deno.test("a handshake the server refuses over the client certificate is final", () => {
  for (
    const m of [
      "received fatal alert: BadCertificate",
      "received fatal alert: CertificateRequired",
    ]
  ) {
    const f = classifyFailure(err(m), addr, undefined);
    assert.equal(f.retryable, false, m);
    assert.match(f.error.message, /usually the client certificate/);
  }
});

Deno.test("a handshake cut short without naming a certificate is retried", () => {
  const f = classifyFailure(err("tls handshake eof"), addr, undefined);
  assert.equal(f.retryable, true);
  assert.equal(f.error.kind, "tls");
  assert.match(
    f.error.message,
    /TLS handshake with https:\/\/127\.0\.0\.1:8200 failed/,
  );
});

Deno.test("an unknown server CA is final and names VAULT_CACERT", () => {
  const f = classifyFailure(
    err("invalid peer certificate: UnknownIssuer"),
    addr,
    undefined,
  );
  assert.equal(f.retryable, false);
  assert.match(f.error.message, /VAULT_CACERT/);
});
