import assert from "node:assert/strict";
import { HttpError } from "../../ffi/http.ts";
import { VaultError } from "../../src/vault/errors.ts";
import { classifyFailure } from "../../src/vault/classify_failure.ts";

const addr = "https://127.0.0.1:8200";

Deno.test("a handshake the server refuses over the client certificate is final", () => {
  for (
    const d of [
      "TLS handshake: error:0A000412:SSL routines::sslv3 alert bad certificate",
      "reading the answer: error:0A00045C:SSL routines::tlsv13 alert certificate required",
    ]
  ) {
    const f = classifyFailure(new HttpError("tls_refused", d), addr, undefined);
    assert.equal(f.retryable, false, d);
    assert.match(f.error.message, /usually the client certificate/);
  }
});

Deno.test("a handshake cut short without naming a certificate is retried", () => {
  const f = classifyFailure(
    new HttpError("tls", "TLS handshake: unexpected eof"),
    addr,
    undefined,
  );
  assert.equal(f.retryable, true);
  assert.equal(f.error.kind, "tls");
  assert.match(
    f.error.message,
    /TLS handshake with https:\/\/127\.0\.0\.1:8200 failed/,
  );
});

Deno.test("a plain HTTP server behind an https:// address is final and says so", () => {
  const f = classifyFailure(
    new HttpError(
      "tls",
      "TLS handshake: error:0A00010B:SSL routines::wrong version number",
    ),
    addr,
    undefined,
  );
  assert.equal(f.retryable, false);
  assert.match(f.error.message, /does not answer TLS \(is it plain HTTP/);
});

Deno.test("an unknown server CA is final and names VAULT_CACERT", () => {
  const f = classifyFailure(
    new HttpError(
      "tls_verify",
      "TLS handshake: certificate verify failed: unable to get local issuer certificate",
    ),
    addr,
    undefined,
  );
  assert.equal(f.retryable, false);
  assert.match(f.error.message, /VAULT_CACERT/);
});

Deno.test("a certificate for another name names the name and VAULT_TLS_SERVER_NAME", () => {
  const f = classifyFailure(
    new HttpError("tls_name", "certificate verify failed: hostname mismatch"),
    addr,
    "vault.example",
  );
  assert.equal(f.retryable, false);
  assert.match(
    f.error.message,
    /not valid for "vault\.example".*VAULT_TLS_SERVER_NAME/,
  );
});

Deno.test("refused, reset, unresolvable and timed-out connections are retried", () => {
  for (const failure of ["connect", "closed", "resolve", "timeout"] as const) {
    const f = classifyFailure(new HttpError(failure, "x"), addr, undefined);
    assert.equal(f.retryable, true, failure);
    assert.equal(f.error.kind, "connection", failure);
    assert.match(f.error.message, /cannot reach https:\/\/127\.0\.0\.1:8200/);
  }
});

Deno.test("an answer that is not HTTP is final; a VaultError passes through", () => {
  const f = classifyFailure(
    new HttpError("protocol", "the answer is not HTTP/1.x"),
    addr,
    undefined,
  );
  assert.equal(f.retryable, false);
  assert.equal(f.error.kind, "bad_response");
  const own = new VaultError("config", "the X header would hold a line break");
  assert.equal(classifyFailure(own, addr, undefined).error, own);
});
