/**
 * Times, in a fresh Deno process as the wrapper would be, a first mTLS
 * request to OpenBao (TCP + TLS handshake + request), a second on the same
 * connection, a cert login and a KV read on the warm connection, over
 * HTTP/1.1 as the wrapper's transport (src/vault/fetch_transport.ts). Prints
 * one JSON line. Run by profile.ts only:
 * `deno run -A tls_probe.ts ADDR CA CERT KEY API_PATH`.
 *
 * @module
 */
const [addr, ca, cert, key, path] = Deno.args;
const client = Deno.createHttpClient({
  caCerts: [Deno.readTextFileSync(ca)],
  cert: Deno.readTextFileSync(cert),
  key: Deno.readTextFileSync(key),
  http2: false,
});
async function timed(url: string, init: RequestInit = {}) {
  const t = performance.now();
  const res = await fetch(url, { ...init, client });
  const body = await res.bytes();
  return { ms: performance.now() - t, body };
}
const first = await timed(`${addr}/v1/sys/health`);
const second = await timed(`${addr}/v1/sys/health`);
const login = await timed(`${addr}/v1/auth/cert/login`, {
  method: "POST",
  body: JSON.stringify({ name: "app" }),
});
const token = JSON.parse(new TextDecoder().decode(login.body)).auth
  .client_token;
const read = await timed(`${addr}/v1/${path}`, {
  headers: { "X-Vault-Token": token },
});
read.body.fill(0);
client.close();
console.log(JSON.stringify({
  firstMs: first.ms,
  secondMs: second.ms,
  loginWarmMs: login.ms,
  readWarmMs: read.ms,
}));
