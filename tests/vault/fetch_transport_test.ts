/**
 * The fetch transport keeps a start on one HTTP/1.1 connection, one request
 * at a time (src/vault/fetch_transport.ts says why: Nagle stalls over h2 and
 * on a second connection's handshake). Seen from the server's side: a TLS
 * listener that offers h2 first, records what each connection negotiated,
 * and how many requests were in flight at once.
 */
import assert from "node:assert/strict";
import { fetchTransport } from "../../src/vault/fetch_transport.ts";
import type { TransportRequest } from "../../src/vault/transport.ts";
import { generateCerts } from "../support/openbao/certs.ts";

interface Seen {
  alpn: (string | null)[];
  inFlight: number;
  maxInFlight: number;
  requests: string[];
}

/** An HTTP/1.1 server that answers each request after `delayMs`. */
function server(cert: string, key: string, delayMs: number) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const seen: Seen = { alpn: [], inFlight: 0, maxInFlight: 0, requests: [] };
  const conns: Deno.TlsConn[] = [];
  const dec = new TextDecoder();
  const serve = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        try {
          seen.alpn.push((await conn.handshake()).alpnProtocol);
          const buf = new Uint8Array(65536);
          let text = "";
          for (;;) {
            const end = text.indexOf("\r\n\r\n");
            if (end < 0) {
              const n = await conn.read(buf);
              if (n === null) return;
              text += dec.decode(buf.subarray(0, n));
              continue;
            }
            const head = text.slice(0, end);
            text = text.slice(end + 4); // the test sends no bodies
            const line = head.split("\r\n")[0];
            seen.requests.push(line);
            seen.inFlight++;
            seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
            await new Promise((r) => setTimeout(r, delayMs));
            const body = JSON.stringify({ line });
            seen.inFlight--;
            await conn.write(
              new TextEncoder().encode(
                `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n` +
                  `Content-Length: ${body.length}\r\n\r\n${body}`,
              ),
            );
          }
        } catch { /* closed by the test, or not HTTP/1.1 */ }
      })();
    }
  })();
  return {
    url: `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    seen,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serve.catch(() => {});
    },
  };
}

async function withServer(
  delayMs: number,
  fn: (s: ReturnType<typeof server>, ca: string) => Promise<void>,
) {
  const certs = await generateCerts();
  try {
    const s = server(
      await Deno.readTextFile(certs.serverCert),
      await Deno.readTextFile(certs.serverKey),
      delayMs,
    );
    try {
      await fn(s, await Deno.readTextFile(certs.caCert));
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
}

function get(
  base: string,
  path: string,
  signal: AbortSignal,
): TransportRequest {
  return { method: "GET", url: new URL(path, base), headers: {}, signal };
}

Deno.test("fetch transport: concurrent requests go over one HTTP/1.1 connection, one at a time, in order", async () => {
  await withServer(20, async (s, ca) => {
    const t = fetchTransport({ caCerts: [ca], skipVerify: false });
    try {
      const signal = new AbortController().signal;
      const paths = ["/v1/a", "/v1/b", "/v1/c", "/v1/d", "/v1/e"];
      const res = await Promise.all(
        paths.map((p) => t.send(get(s.url, p, signal))),
      );
      const lines = res.map((r) =>
        JSON.parse(new TextDecoder().decode(r.body)).line
      );
      assert.deepEqual(lines, paths.map((p) => `GET ${p} HTTP/1.1`));
      assert.deepEqual(s.seen.alpn, ["http/1.1"], "one connection, HTTP/1.1");
      assert.equal(s.seen.maxInFlight, 1);
      assert.deepEqual(s.seen.requests, lines);
    } finally {
      t.close();
    }
  });
});

Deno.test("fetch transport: a request aborted while it waits for its turn is never sent", async () => {
  await withServer(100, async (s, ca) => {
    const t = fetchTransport({ caCerts: [ca], skipVerify: false });
    try {
      const first = t.send(
        get(s.url, "/v1/first", new AbortController().signal),
      );
      const ac = new AbortController();
      const second = t.send(get(s.url, "/v1/second", ac.signal));
      ac.abort(new DOMException("stopped", "AbortError"));
      await assert.rejects(second, /stopped/);
      assert.equal((await first).status, 200);
      const third = await t.send(
        get(s.url, "/v1/third", new AbortController().signal),
      );
      assert.equal(third.status, 200);
      assert.deepEqual(s.seen.requests, [
        "GET /v1/first HTTP/1.1",
        "GET /v1/third HTTP/1.1",
      ]);
    } finally {
      t.close();
    }
  });
});
