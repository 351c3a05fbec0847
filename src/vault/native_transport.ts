/**
 * The transport: HTTP/1.1 over OpenSSL in the shim (c/shim/http.c says why
 * not Deno's fetch: 30-40 ms of CPU per process in AWS-LC's seeding, and
 * freed copies of answers on the heap). One kept-alive TCP+TLS connection,
 * one request at a time, `TCP_NODELAY` on: each request is one write
 * answered in full before the next, so nothing small waits for the
 * server's delayed ACK (docs/startup-profile.md).
 */
import {
  HttpClient,
  type HttpRequest,
  PairError,
  warmTls,
} from "../../ffi/http.ts";
import { log } from "../log.ts";
import { VaultError } from "./errors.ts";
import type { PemFile, TlsSettings } from "./tls_settings.ts";
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from "./transport.ts";

const enc = new TextEncoder();

/**
 * Lets OpenSSL set itself up in the background when `addr` is https (the
 * start calls it first thing, the client comes several ms later).
 */
export function warmTransport(addr: string | undefined): void {
  if (addr?.startsWith("https:")) warmTls();
}

/** Loads the CAs and the client pair; wrong PEM is a `config` error. */
function setUpTls(client: HttpClient, tls: TlsSettings): void {
  for (const ca of tls.cas) {
    try {
      client.addCa(ca.pem);
    } catch (e) {
      throw new VaultError(
        "config",
        `${ca.source} holds a certificate that cannot be parsed (${
          (e as Error).message
        })`,
      );
    }
  }
  if (!tls.cert || !tls.key) return;
  try {
    client.clientPair(tls.cert.pem, tls.key.pem);
  } catch (e) {
    if (!(e instanceof PairError)) throw e;
    throw new VaultError("config", pairMessage(e, tls.cert, tls.key));
  }
}

function pairMessage(e: PairError, cert: PemFile, key: PemFile): string {
  switch (e.problem) {
    case "cert":
      return `${cert.source} holds no certificate that can be parsed ` +
        `(${e.detail})`;
    case "key":
      return `${key.source} holds no private key that can be parsed ` +
        `(${e.detail})`;
    case "mismatch":
      return `${cert.source} and ${key.source} do not match: the key is not ` +
        "the certificate's private key";
  }
}

/** Refuses header text that would end the line (header injection). */
function line(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new VaultError(
      "config",
      `the ${name} header would hold a line break or NUL`,
    );
  }
  return `${name}: ${value}\r\n`;
}

/**
 * The request in the shim's three parts: the head (request line, headers,
 * `X-Vault-Token: ` when there is a token), the token's bytes where they
 * live (never copied here), the tail (end of headers, body; the caller
 * wipes it).
 */
export function requestParts(req: TransportRequest, host: string): HttpRequest {
  let head = `${req.method} ${req.url.pathname}${req.url.search} HTTP/1.1\r\n` +
    line("Host", host);
  for (const [k, v] of Object.entries(req.headers)) head += line(k, v);
  if (req.body || req.method === "POST" || req.method === "PUT") {
    head += `Content-Length: ${req.body?.length ?? 0}\r\n`;
  }
  const token = req.token;
  if (token) {
    // A token is printable ASCII; anything else would break the request.
    if (token.length === 0 || token.some((b) => b < 0x21 || b > 0x7e)) {
      throw new VaultError(
        "bad_response",
        "the Vault token holds a byte that cannot be sent in a header",
      );
    }
    head += "X-Vault-Token: ";
  }
  const end = enc.encode(token ? "\r\n\r\n" : "\r\n");
  const tail = new Uint8Array(end.length + (req.body?.length ?? 0));
  tail.set(end);
  if (req.body) tail.set(req.body, end.length);
  return { head: enc.encode(head), token, tail };
}

/**
 * A transport to `origin` (VAULT_ADDR) with `tls`; wipes `tls.key` once
 * OpenSSL has it. VAULT_SKIP_VERIFY warns at `warning` level every time.
 *
 * @example
 * ```ts
 * const t = nativeTransport(new URL(addr), tlsSettings(config));
 * const res = await t.send({ method: "GET", url, headers: {}, signal, timeoutMs: 5000 });
 * res.body.fill(0);
 * t.close();
 * ```
 */
export function nativeTransport(origin: URL, tls: TlsSettings): Transport {
  const plain = origin.protocol === "http:";
  if (tls.skipVerify && !plain) {
    log("vault").warn(
      "VAULT_SKIP_VERIFY is set: the server certificate is NOT verified, so " +
        "anyone between this pod and Vault can read the token and every " +
        "secret; the protection score is reduced",
    );
  }
  const client = HttpClient.create({ plain, skipVerify: tls.skipVerify });
  try {
    if (!plain) setUpTls(client, tls);
    const host = origin.hostname.replace(/^\[|\]$/g, "");
    const port = origin.port || (plain ? "80" : "443");
    client.target(host, port, tls.serverName ?? host);
  } catch (e) {
    client.close();
    throw e;
  } finally {
    tls.key?.pem.fill(0);
  }

  async function exchange(req: TransportRequest): Promise<TransportResponse> {
    // Aborted while it waited for its turn: never sent.
    req.signal.throwIfAborted();
    const parts = requestParts(req, origin.host);
    const cancel = () => client.cancel();
    req.signal.addEventListener("abort", cancel, { once: true });
    try {
      const a = await client.exchange(parts, req.timeoutMs);
      return { status: a.status, retryAfter: a.retryAfter, body: a.body };
    } finally {
      req.signal.removeEventListener("abort", cancel);
      parts.tail.fill(0);
    }
  }
  // The last request, settled either way, while it or one queued after it
  // is unsettled: the next one starts when it is done. With none, a request
  // goes out now, not in a microtask: the start does its other work while
  // the login is on the wire (src/cli/start.ts).
  let last: Promise<void> | undefined;
  return {
    send(req: TransportRequest): Promise<TransportResponse> {
      const turn = last ? last.then(() => exchange(req)) : exchange(req);
      const settled = turn.then(() => {}, () => {});
      last = settled;
      settled.then(() => {
        if (last === settled) last = undefined;
      });
      return turn;
    },
    forgetKey() {
      client.forgetKey();
    },
    close() {
      client.close();
    },
  };
}
