/**
 * The transport (src/vault/native_transport.ts over c/shim/http.c), seen
 * from the server's side: one connection, one request at a time, in order;
 * HTTP/1.1 framing (Content-Length, chunked, Connection: close, a kept-alive
 * connection the server dropped); Retry-After; the token sent as bytes and
 * header injection refused; an abort or the deadline ends an exchange in
 * flight at once.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../ffi/http.ts";
import { nativeTransport } from "../../src/vault/native_transport.ts";
import type { TransportRequest } from "../../src/vault/transport.ts";
import { generateCerts } from "../support/openbao/certs.ts";
import { tlsPeer } from "../support/listeners.ts";

interface Seen {
  connections: number;
  inFlight: number;
  maxInFlight: number;
  requests: string[];
  heads: string[];
}

/** What the server answers to one request head (or null: never answer). */
type Answer = (
  line: string,
  n: number,
) => { raw: string; close?: boolean } | null;

function ok(body: string, extra = ""): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}` +
    `Content-Length: ${body.length}\r\n\r\n${body}`;
}

/** A TLS server (offering h2 first) that answers each request after `delayMs`. */
function server(cert: string, key: string, delayMs: number, answer: Answer) {
  const seen: Seen = {
    connections: 0,
    inFlight: 0,
    maxInFlight: 0,
    requests: [],
    heads: [],
  };
  const dec = new TextDecoder();
  const peer = tlsPeer(
    { cert, key, alpnProtocols: ["h2", "http/1.1"] },
    async (conn) => {
      seen.connections++;
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
        text = text.slice(end + 4); // the tests send no bodies
        const line = head.split("\r\n")[0];
        seen.requests.push(line);
        seen.heads.push(head);
        seen.inFlight++;
        seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
        await new Promise((r) => setTimeout(r, delayMs));
        const a = answer(line, seen.requests.length);
        if (a === null) return; // silent: the connection stays open
        seen.inFlight--;
        const out = new TextEncoder().encode(a.raw);
        for (let at = 0; at < out.length;) {
          at += await conn.write(out.subarray(at));
        }
        if (a.close) {
          conn.close();
          return;
        }
      }
    },
  );
  return { url: peer.url, seen, close: peer.close };
}

const echoLine: Answer = (line) => ({ raw: ok(JSON.stringify({ line })) });

async function withServer(
  delayMs: number,
  fn: (s: ReturnType<typeof server>, ca: Uint8Array) => Promise<void>,
  answer: Answer = echoLine,
) {
  const certs = await generateCerts();
  try {
    const s = server(
      await Deno.readTextFile(certs.serverCert),
      await Deno.readTextFile(certs.serverKey),
      delayMs,
      answer,
    );
    try {
      await fn(s, await Deno.readFile(certs.caCert));
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
}

function transport(url: string, ca: Uint8Array) {
  return nativeTransport(new URL(url), {
    cas: [{ source: "VAULT_CACERT=test", pem: ca }],
    skipVerify: false,
  });
}

function get(
  base: string,
  path: string,
  signal: AbortSignal = new AbortController().signal,
  more: Partial<TransportRequest> = {},
): TransportRequest {
  return {
    method: "GET",
    url: new URL(path, base),
    headers: {},
    signal,
    timeoutMs: 10_000,
    ...more,
  };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("transport: concurrent requests go over one HTTP/1.1 connection, one at a time, in order", async () => {
  await withServer(20, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      const paths = ["/v1/a", "/v1/b", "/v1/c", "/v1/d", "/v1/e"];
      const res = await Promise.all(paths.map((p) => t.send(get(s.url, p))));
      const lines = res.map((r) => JSON.parse(text(r.body)).line);
      assert.deepEqual(lines, paths.map((p) => `GET ${p} HTTP/1.1`));
      assert.equal(s.seen.connections, 1, "one connection");
      assert.equal(s.seen.maxInFlight, 1);
      assert.deepEqual(s.seen.requests, lines);
    } finally {
      t.close();
    }
  });
});

Deno.test("transport: a request aborted while it waits for its turn is never sent", async () => {
  await withServer(100, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      const first = t.send(get(s.url, "/v1/first"));
      const ac = new AbortController();
      const second = t.send(get(s.url, "/v1/second", ac.signal));
      ac.abort(new DOMException("stopped", "AbortError"));
      await assert.rejects(second, /stopped/);
      assert.equal((await first).status, 200);
      const third = await t.send(get(s.url, "/v1/third"));
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

Deno.test("transport: a chunked answer of 300 KB and a Content-Length answer arrive byte for byte", async () => {
  const big = "x".repeat(300_000) + "end";
  const chunked = (body: string) => {
    let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (let i = 0; i < body.length; i += 7000) {
      const c = body.slice(i, i + 7000);
      raw += `${c.length.toString(16)};ext=1\r\n${c}\r\n`;
    }
    return raw + "0\r\nX-Trailer: t\r\n\r\n";
  };
  await withServer(0, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      const a = await t.send(get(s.url, "/v1/big"));
      assert.equal(a.body.length, big.length);
      assert.equal(text(a.body), big);
      const b = await t.send(get(s.url, "/v1/small"));
      assert.equal(text(b.body), "{}");
      assert.equal(s.seen.connections, 1);
    } finally {
      t.close();
    }
  }, (line) => ({ raw: line.includes("big") ? chunked(big) : ok("{}") }));
});

Deno.test("transport: Retry-After and the status come through; 204 has no body", async () => {
  await withServer(0, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      const a = await t.send(get(s.url, "/v1/limited"));
      assert.equal(a.status, 429);
      assert.equal(a.retryAfter, "7");
      const b = await t.send(get(s.url, "/v1/empty"));
      assert.equal(b.status, 204);
      assert.equal(b.body.length, 0);
      assert.equal(b.retryAfter, null);
    } finally {
      t.close();
    }
  }, (line) => ({
    raw: line.includes("limited")
      ? "HTTP/1.1 429 Too Many Requests\r\nRetry-After:  7 \r\nContent-Length: 2\r\n\r\n{}"
      : "HTTP/1.1 204 No Content\r\n\r\n",
  }));
});

Deno.test("transport: Connection: close, and a kept-alive connection the server dropped, go on over a new connection", async () => {
  await withServer(0, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      for (const p of ["/v1/a", "/v1/b", "/v1/c", "/v1/d"]) {
        const r = await t.send(get(s.url, p));
        assert.equal(JSON.parse(text(r.body)).line, `GET ${p} HTTP/1.1`);
        // Let the dropped connection's EOF arrive before the next request.
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(s.seen.requests.length, 4, "each request sent once");
      assert.equal(s.seen.connections, 3);
    } finally {
      t.close();
    }
  }, (line, n) => ({
    // 1: "Connection: close"; 2: dropped without saying so; 3, 4: kept.
    raw: ok(JSON.stringify({ line }), n === 1 ? "Connection: close\r\n" : ""),
    close: n <= 2,
  }));
});

Deno.test("transport: the token goes out as X-Vault-Token from bytes; a header with a line break is refused", async () => {
  await withServer(0, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      const token = new TextEncoder().encode("s.TOKENbytes123");
      await t.send(get(s.url, "/v1/t", undefined, { token }));
      assert.match(
        s.seen.heads[0],
        /\r\nX-Vault-Token: s\.TOKENbytes123(\r\n|$)/,
      );
      await assert.rejects(
        t.send(get(s.url, "/v1/x", undefined, {
          headers: { "X-Vault-Namespace": "a\r\nX-Evil: 1" },
        })),
        /X-Vault-Namespace header would hold a line break/,
      );
      await assert.rejects(
        t.send(get(s.url, "/v1/y", undefined, {
          token: new TextEncoder().encode("s.a\r\nX-Evil: 1"),
        })),
        /cannot be sent in a header/,
      );
      assert.equal(s.seen.requests.length, 1, "neither was sent");
    } finally {
      t.close();
    }
  });
});

Deno.test("transport: an abort ends an exchange in flight at once; the deadline ends a silent one", async () => {
  await withServer(0, async (s, ca) => {
    const t = transport(s.url, ca);
    try {
      const ac = new AbortController();
      const t0 = performance.now();
      const p = t.send(get(s.url, "/v1/silent", ac.signal));
      setTimeout(() => ac.abort(), 100);
      await assert.rejects(
        p,
        (e) => e instanceof HttpError && e.failure === "cancelled",
      );
      const took = performance.now() - t0;
      assert.ok(took < 2000, `abort took ${took} ms`);
    } finally {
      t.close();
    }
    const u = transport(s.url, ca);
    try {
      const t0 = performance.now();
      await assert.rejects(
        u.send(get(s.url, "/v1/silent", undefined, { timeoutMs: 300 })),
        (e) => e instanceof HttpError && e.failure === "timeout",
      );
      const took = performance.now() - t0;
      assert.ok(took >= 250 && took < 3000, `deadline after ${took} ms`);
    } finally {
      u.close();
    }
  }, () => null);
});
