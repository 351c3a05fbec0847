/**
 * The server process: spawned with a clean environment under
 * `setpriv --pdeathsig`, its log piped to a file, its health polled, stopped
 * with a grace period (or killed when this process unloads).
 */
import type { TestCerts } from "./certs.ts";
import { serverConfig } from "./server_config.ts";
import {
  type ApiOptions,
  type ApiResult,
  type OpenBao,
  OpenBaoError,
  type OpenBaoJwt,
  type OpenBaoOptions,
  ROLE,
} from "./types.ts";

const STOP_GRACE_MS = 5000;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The environment for the server: ours without any Vault/OpenBao client settings. */
function serverEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!/^(VAULT_|BAO_)/.test(k)) env[k] = v;
  }
  return env;
}

function tail(path: string, lines = 30): string {
  try {
    const all = Deno.readTextFileSync(path).trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch {
    return `(no log at ${path})`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for `ok(status)` from `sys/health`, or the child's exit, or the deadline. */
async function waitHealth(
  addr: string,
  client: Deno.HttpClient,
  exited: Promise<Deno.CommandStatus>,
  ok: (status: number) => boolean,
  deadline: number,
  what: string,
  logFile: string,
): Promise<void> {
  let gone: Deno.CommandStatus | undefined;
  exited.then((s) => gone = s);
  let last = "no answer";
  while (true) {
    if (gone) {
      throw new OpenBaoError(
        `OpenBao exited (code ${gone.code}) while waiting ${what}`,
        tail(logFile),
      );
    }
    try {
      const res = await fetch(
        `${addr}/v1/sys/health?standbyok=false`,
        { client, signal: AbortSignal.timeout(2000) },
      );
      await res.body?.cancel();
      if (ok(res.status)) return;
      last = `sys/health status ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) {
      throw new OpenBaoError(
        `OpenBao did not come up ${what} in time (last: ${last})`,
        tail(logFile),
      );
    }
    await sleep(15);
  }
}

/** A running server; {@link startOpenBao} initialises and seeds it. */
export class Server implements OpenBao {
  addr: string;
  port: number;
  dir: string;
  caCert: string;
  serverCert: string;
  clientCert: string;
  clientKey: string;
  untrustedCert: string;
  untrustedKey: string;
  untrustedCaCert: string;
  logFile: string;
  rootToken = "";
  unsealKey = "";
  pid: number;
  approle = { role: ROLE, roleId: "", secretIdFile: "" };
  jwt!: OpenBaoJwt;
  readonly #child: Deno.ChildProcess;
  readonly #client: Deno.HttpClient;
  readonly #logPumps: Promise<void>;
  readonly #onUnload = () => this.#killNow();
  #stopping?: Promise<void>;
  #terminating?: Promise<void>;
  #exited?: Deno.CommandStatus;

  constructor(
    certs: TestCerts,
    port: number,
    child: Deno.ChildProcess,
    logPumps: Promise<void>,
    logFile: string,
  ) {
    this.dir = certs.dir;
    this.port = port;
    this.addr = `https://127.0.0.1:${port}`;
    this.caCert = certs.caCert;
    this.serverCert = certs.serverCert;
    this.clientCert = certs.clientCert;
    this.clientKey = certs.clientKey;
    this.untrustedCert = certs.untrustedCert;
    this.untrustedKey = certs.untrustedKey;
    this.untrustedCaCert = certs.untrustedCaCert;
    this.logFile = logFile;
    this.#child = child;
    this.pid = child.pid;
    this.#logPumps = logPumps;
    this.#client = Deno.createHttpClient({
      caCerts: [Deno.readTextFileSync(certs.caCert)],
    });
    child.status.then((s) => this.#exited = s);
    globalThis.addEventListener("unload", this.#onUnload);
  }

  get exited(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  get client(): Deno.HttpClient {
    return this.#client;
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
    opts: ApiOptions = {},
  ): Promise<ApiResult> {
    const headers: Record<string, string> = {};
    const token = opts.token ?? this.rootToken;
    if (token) headers["X-Vault-Token"] = token;
    if (opts.namespace) headers["X-Vault-Namespace"] = opts.namespace;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const url = `${this.addr}/v1/${path.replace(/^\/?(v1\/)?/, "")}`;
    for (let attempt = 1;; attempt++) {
      const res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        client: opts.client ?? this.#client,
        signal: AbortSignal.timeout(10000),
      });
      const text = await res.text();
      let json = null;
      if (text) {
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
      }
      // OpenBao 2.x storage is transactional: concurrent writes that touch
      // the same entries (auth role set-up, for one) can lose with a 500
      // "transaction commit failed" and nothing written. Retry those.
      const conflict = res.status === 500 &&
        JSON.stringify(json).includes("transaction commit failed");
      if (!conflict || attempt >= 5) return { status: res.status, json };
      await sleep(10 * attempt);
    }
  }

  /** `api()` that throws unless the status is 2xx. */
  async must(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<ApiResult> {
    const r = await this.api(method, path, body);
    if (r.status < 200 || r.status > 299) {
      throw new OpenBaoError(
        `${method} /v1/${path} gave ${r.status}: ${JSON.stringify(r.json)}`,
      );
    }
    return r;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      VAULT_ADDR: this.addr,
      VAULT_CACERT: this.caCert,
      VAULT_CLIENT_CERT: this.clientCert,
      VAULT_CLIENT_KEY: this.clientKey,
      VAULT_AUTH_METHOD: "cert",
      VAULT_AUTH_ROLE: ROLE,
      ...extra,
    };
  }

  logTail(lines = 30): string {
    return tail(this.logFile, lines);
  }

  waitHealth(ok: (s: number) => boolean, ms: number, what: string) {
    return waitHealth(
      this.addr,
      this.#client,
      this.#child.status,
      ok,
      Date.now() + ms,
      what,
      this.logFile,
    );
  }

  async seal(): Promise<void> {
    await this.must("PUT", "sys/seal");
    await this.waitHealth((s) => s === 503, 10000, "to seal");
  }

  async unseal(): Promise<void> {
    const r = await this.must("PUT", "sys/unseal", { key: this.unsealKey });
    if (r.json?.sealed !== false) {
      throw new OpenBaoError(
        `unseal left the server sealed: ${JSON.stringify(r.json)}`,
      );
    }
    await this.waitHealth((s) => s === 200, 10000, "to become active");
  }

  stop(): Promise<void> {
    return this.#stopping ??= this.terminate().then(() =>
      Deno.remove(this.dir, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      })
    );
  }

  /** Kills the server and closes the HTTP client; keeps `dir`. Idempotent. */
  terminate(): Promise<void> {
    return this.#terminating ??= this.#terminate();
  }

  async #terminate(): Promise<void> {
    globalThis.removeEventListener("unload", this.#onUnload);
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch (e) {
        // The child exited between the check and the kill.
        if (!(e instanceof TypeError)) throw e;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        this.#child.status.then(() => false),
        new Promise<boolean>((r) =>
          timer = setTimeout(() => r(true), STOP_GRACE_MS)
        ),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        try {
          this.#child.kill("SIGKILL");
        } catch (e) {
          if (!(e instanceof TypeError)) throw e;
        }
      }
    }
    await this.#child.status;
    await this.#logPumps;
    this.#client.close();
  }

  /** The synchronous last resort when the process unloads without stop(). */
  #killNow(): void {
    if (this.#exited) return;
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Already removed.
    }
  }
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  path: string,
): Promise<void> {
  const file = await Deno.open(path, {
    write: true,
    create: true,
    append: true,
  });
  await stream.pipeTo(file.writable);
}

/** Starts `bao server` on a free loopback port with `certs`. */
export async function spawn(
  bao: string,
  certs: TestCerts,
  opts: OpenBaoOptions,
): Promise<Server> {
  const logFile = `${certs.dir}/server.log`;
  const port = freePort();
  const configFile = `${certs.dir}/server.hcl`;
  await Deno.writeTextFile(
    configFile,
    serverConfig(port, certs, opts.listener ?? {}),
  );
  const args = [
    "server",
    `-config=${configFile}`,
    `-log-level=${opts.logLevel ?? "info"}`,
  ];
  // setpriv --pdeathsig: the kernel sends SIGTERM to the server if this
  // process dies without running stop() or unload (SIGKILL, a crash).
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  const [cmd, ...rest] = setpriv
    ? [setpriv, "--pdeathsig", "SIGTERM", "--", bao, ...args]
    : [bao, ...args];
  const child = new Deno.Command(cmd, {
    args: rest,
    cwd: certs.dir,
    clearEnv: true,
    env: serverEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pumps = Promise.all([
    pump(child.stdout, logFile),
    pump(child.stderr, logFile),
  ]).then(() => {});
  return new Server(certs, port, child, pumps, logFile);
}
