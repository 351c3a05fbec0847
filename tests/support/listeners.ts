/**
 * Listening sockets seen from outside a process: a LISTEN entry in
 * /proc/net/{tcp,tcp6} whose inode is one of the process's fds, and the V8
 * inspector's default port 9229 held by anyone.
 */

/** `ip:port` of each listening TCP socket, keyed by socket inode. */
export function listeningTcp(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue; // no IPv6
    }
    for (const line of text.trim().split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st ... uid timeout inode
      if (f[3] !== "0A") continue; // TCP_LISTEN
      const [ip, port] = f[1].split(":");
      out.set(f[9], `${ip}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

/** The socket inodes among a process's fds (empty once it is gone). */
export function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  try {
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(
          Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`),
        );
        if (m) out.add(m[1]);
      } catch { /* closed meanwhile */ }
    }
  } catch { /* the process is gone */ }
  return out;
}

/** The TCP sockets `pid` listens on, as `hexip:port`. */
export function listenersOf(pid: number): string[] {
  const mine = socketInodes(pid);
  return [...listeningTcp()].filter(([inode]) => mine.has(inode)).map((
    [, addr],
  ) => addr);
}

/**
 * A TCP peer on 127.0.0.1 that accepts and never answers: `addr` as an
 * https URL, `connections()` counts what it accepted. Always `close()` it.
 */
export function silentPeer(): {
  addr: string;
  connections: () => number;
  close(): void;
} {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const c of l) conns.push(c);
  })().catch(() => {});
  return {
    addr: `https://127.0.0.1:${(l.addr as Deno.NetAddr).port}`,
    connections: () => conns.length,
    close() {
      l.close();
      for (const c of conns) c.close();
    },
  };
}

/**
 * A TLS peer on 127.0.0.1 with `cert` and `key` (offering `alpnProtocols`
 * when given) that runs `serve` for each connection it accepts; a
 * connection's failure is its own. `close()` stops it and every connection.
 */
export function tlsPeer(
  tls: { cert: string; key: string; alpnProtocols?: string[] },
  serve: (conn: Deno.TlsConn) => Promise<void>,
): { port: number; url: string; close(): Promise<void> } {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...tls });
  const conns: Deno.TlsConn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      serve(conn).catch(() => {/* closed by the test */});
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accepting.catch(() => {});
    },
  };
}
