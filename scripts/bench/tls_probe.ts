/**
 * Times, in a fresh Deno process as the wrapper would be, a first mTLS
 * request to OpenBao (TCP + TLS handshake + request), a second on the same
 * connection, a cert login and a KV read on the warm connection, through the
 * wrapper's own transport (src/vault/native_transport.ts). Prints one JSON
 * line. Run by profile.ts only:
 * `deno run -A tls_probe.ts ADDR CA CERT KEY API_PATH`.
 *
 * @module
 */
import { findPath } from "../../src/vault/json_bytes/mod.ts";
import { nativeTransport } from "../../src/vault/native_transport.ts";

const [addr, ca, cert, key, path] = Deno.args;
const t = nativeTransport(new URL(addr), {
  cas: [{ source: "CA", pem: Deno.readFileSync(ca) }],
  cert: { source: "CERT", pem: Deno.readFileSync(cert) },
  key: { source: "KEY", pem: Deno.readFileSync(key) },
  skipVerify: false,
});
const signal = new AbortController().signal;
async function timed(
  p: string,
  more: { body?: Uint8Array; token?: Uint8Array } = {},
) {
  const start = performance.now();
  const res = await t.send({
    method: more.body ? "POST" : "GET",
    url: new URL(`${addr}/v1/${p}`),
    headers: {},
    signal,
    timeoutMs: 30_000,
    ...more,
  });
  return { ms: performance.now() - start, body: res.body };
}
const first = await timed("sys/health");
const second = await timed("sys/health");
const login = await timed("auth/cert/login", {
  body: new TextEncoder().encode(JSON.stringify({ name: "app" })),
});
const span = findPath(login.body, ["auth", "client_token"])!;
const token = login.body.slice(span.start + 1, span.end - 1);
login.body.fill(0);
const read = await timed(path, { token });
read.body.fill(0);
token.fill(0);
t.close();
console.log(JSON.stringify({
  firstMs: first.ms,
  secondMs: second.ms,
  loginWarmMs: login.ms,
  readWarmMs: read.ms,
}));
