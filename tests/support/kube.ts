/**
 * A real Kubernetes control plane for tests: Debian's etcd and a
 * kube-apiserver built from the Go module proxy (scripts/k8s/build.sh,
 * cached), both on 127.0.0.1 with certificates and keys made for the run.
 * No controller manager, scheduler or kubelet: pods are stored, never run
 * (tests/support/pod_runner.ts runs what a stored pod says).
 *
 * | what | how |
 * |---|---|
 * | serving certificate | a run CA (`caCert`), 127.0.0.1 and localhost |
 * | authentication | `--token-auth-file`: `adminToken` is in `system:masters`; service-account tokens |
 * | service-account tokens | an EC P-256 key pair made with openssl; TokenRequest and TokenReview work |
 * | authorization | RBAC |
 *
 * Measured here: about 3.8 s from the call to `/readyz` answering 200
 * (certificates, etcd, apiserver), 1.1 s to stop; kube-apiserver 282 MB RSS,
 * etcd 46 MB.
 */
import { generateCerts } from "./openbao/certs.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BUILD = `${ROOT}scripts/k8s/build.sh`;
const STOP_GRACE_MS = 10000;

/** The kube-apiserver and kubectl binaries. */
export interface KubeBinaries {
  apiserver: string;
  kubectl: string;
}

/**
 * The cached binaries; builds them first when the cache lacks them (once,
 * several minutes: a missing cache costs a build, never a skipped test).
 */
export async function kubeBinaries(): Promise<KubeBinaries> {
  const out = await new Deno.Command("bash", {
    args: [BUILD],
    stdout: "piped",
    stderr: "inherit", // the build says what it does, and how long it took
  }).output();
  const dir = new TextDecoder().decode(out.stdout).trim().split("\n").pop();
  if (!out.success || !dir) {
    throw new Error(`${BUILD} failed (exit ${out.code}): see its output above`);
  }
  return { apiserver: `${dir}/kube-apiserver`, kubectl: `${dir}/kubectl` };
}

/** Result of {@linkcode KubeCluster.api}; `json` is null for an empty body. */
export interface KubeResult {
  status: number;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** Options of {@linkcode KubeCluster.token}. */
export interface TokenOptions {
  /** @default the apiserver's own audience */
  audiences?: string[];
  /** @default 3600 */
  expirationSeconds?: number;
  /** Bind the token to this pod, as the kubelet's projected token is. */
  pod?: { name: string; uid: string };
}

/** A running control plane. Always `stop()` it, in a `finally`. */
export interface KubeCluster {
  /** `https://127.0.0.1:PORT` */
  server: string;
  /** PEM file of the CA that signed the apiserver's certificate. */
  caCert: string;
  caPem: string;
  adminToken: string;
  binaries: KubeBinaries;
  /** Temp dir with keys, logs and etcd's data. */
  dir: string;
  /** A kubeconfig file for kubectl as the admin. */
  kubeconfig: string;
  /** A call as the admin (or with `token`). */
  api(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string; contentType?: string },
  ): Promise<KubeResult>;
  /** `api()` that throws unless the status is 2xx. */
  must(method: string, path: string, body?: unknown): Promise<KubeResult>;
  /** Creates a namespace with its `default` ServiceAccount (no controller does). */
  namespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** Creates a ServiceAccount (if missing). */
  serviceAccount(namespace: string, name: string): Promise<void>;
  /** A service-account token from the TokenRequest API. */
  token(namespace: string, sa: string, opts?: TokenOptions): Promise<string>;
  /** Runs the built kubectl against this cluster. */
  kubectl(args: string[], stdin?: string): Promise<Deno.CommandOutput>;
  /** The last lines of the apiserver's log. */
  logTail(lines?: number): string;
  /** Stops the apiserver, then etcd (the other order hangs for minutes). */
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(path: string, lines = 30): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines)
      .join("\n");
  } catch {
    return `(no log at ${path})`;
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** A child process whose output goes to a log file, killed with the test. */
class Daemon {
  readonly child: Deno.ChildProcess;
  readonly log: string;
  #exited?: Deno.CommandStatus;
  readonly #pumps: Promise<void>;

  constructor(cmd: string, args: string[], log: string, cwd: string) {
    this.log = log;
    // setpriv --pdeathsig: the daemon dies with this process even when it
    // is killed without running stop().
    this.child = new Deno.Command("/usr/bin/setpriv", {
      args: ["--pdeathsig", "SIGKILL", "--", cmd, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child.status.then((s) => this.#exited = s);
    const file = Deno.openSync(log, {
      write: true,
      create: true,
      append: true,
    });
    const w = file.writable;
    this.#pumps = Promise.all([
      this.child.stdout.pipeTo(w, { preventClose: true }),
      this.child.stderr.pipeTo(w, { preventClose: true }),
    ]).then(() => w.close()).catch(() => {});
  }

  get exited(): Deno.CommandStatus | undefined {
    return this.#exited;
  }

  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* exited meanwhile */ }
      const timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }, STOP_GRACE_MS);
      await this.child.status;
      clearTimeout(timer);
    }
    await this.#pumps;
  }
}

async function waitFor(
  what: string,
  daemon: Daemon,
  ms: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last = "";
  while (true) {
    if (daemon.exited) {
      throw new Error(
        `${what} exited (code ${daemon.exited.code})\n${tail(daemon.log)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} did not become ready in ${ms} ms (${last})\n${
          tail(daemon.log)
        }`,
      );
    }
    await sleep(100);
  }
}

/**
 * Starts a daemon on ports picked with freePort(); another process can take
 * one between the pick and the bind, so a start that fails with "address
 * already in use" is tried again on new ports (each try logs to its own file).
 */
async function onFreePorts<T>(
  name: string,
  dir: string,
  start: (log: string) => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    const log = `${dir}/${name}${attempt > 1 ? `-${attempt}` : ""}.log`;
    try {
      return await start(log);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(tail(log, 200))) {
        throw e;
      }
    }
  }
}

/** Waits for `daemon` to be ready; stops it when it is not. */
async function ready(
  daemon: Daemon,
  what: string,
  ms: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  try {
    await waitFor(what, daemon, ms, probe);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
}

function startEtcd(dir: string): Promise<{ daemon: Daemon; url: string }> {
  return onFreePorts("etcd", dir, (log) => startEtcdOn(dir, log));
}

async function startEtcdOn(
  dir: string,
  log: string,
): Promise<{ daemon: Daemon; url: string }> {
  const client = freePort();
  const peer = freePort();
  const url = `http://127.0.0.1:${client}`;
  const daemon = new Daemon(
    "etcd",
    [
      "--name=cloudtaser-test",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=cloudtaser-test=http://127.0.0.1:${peer}`,
      "--log-level=warn",
    ],
    log,
    dir,
  );
  await ready(daemon, "etcd", 20000, async () => {
    const r = await fetch(`${url}/health`, {
      signal: AbortSignal.timeout(2000),
    });
    const body = await r.text();
    return r.ok && body.includes('"true"');
  });
  return { daemon, url };
}

class Cluster implements KubeCluster {
  server: string;
  caCert: string;
  caPem: string;
  adminToken: string;
  binaries: KubeBinaries;
  dir: string;
  kubeconfig: string;
  readonly #etcd: Daemon;
  readonly #apiserver: Daemon;
  readonly #client: Deno.HttpClient;
  readonly #onUnload = () => this.#killNow();
  #stopping?: Promise<void>;

  constructor(
    init: {
      server: string;
      caCert: string;
      adminToken: string;
      binaries: KubeBinaries;
      dir: string;
      etcd: Daemon;
      apiserver: Daemon;
    },
  ) {
    this.server = init.server;
    this.caCert = init.caCert;
    this.caPem = Deno.readTextFileSync(init.caCert);
    this.adminToken = init.adminToken;
    this.binaries = init.binaries;
    this.dir = init.dir;
    this.#etcd = init.etcd;
    this.#apiserver = init.apiserver;
    this.#client = Deno.createHttpClient({ caCerts: [this.caPem] });
    this.kubeconfig = `${init.dir}/kubeconfig`;
    Deno.writeTextFileSync(
      this.kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{
          name: "test",
          cluster: {
            server: this.server,
            "certificate-authority": this.caCert,
          },
        }],
        users: [{ name: "admin", user: { token: this.adminToken } }],
        contexts: [{
          name: "test",
          context: { cluster: "test", user: "admin" },
        }],
        "current-context": "test",
      }),
      { mode: 0o600 },
    );
    globalThis.addEventListener("unload", this.#onUnload);
  }

  get apiserverDaemon(): Daemon {
    return this.#apiserver;
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
    opts: { token?: string; contentType?: string } = {},
  ): Promise<KubeResult> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${opts.token ?? this.adminToken}`,
      Accept: "application/json",
    };
    if (body !== undefined) {
      headers["Content-Type"] = opts.contentType ?? "application/json";
    }
    const res = await fetch(`${this.server}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      client: this.#client,
      signal: AbortSignal.timeout(30000),
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
    return { status: res.status, json };
  }

  async must(method: string, path: string, body?: unknown) {
    const r = await this.api(method, path, body);
    if (r.status < 200 || r.status > 299) {
      throw new Error(
        `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`,
      );
    }
    return r;
  }

  async serviceAccount(namespace: string, name: string): Promise<void> {
    const r = await this.api(
      "POST",
      `/api/v1/namespaces/${namespace}/serviceaccounts`,
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } },
    );
    if (r.status !== 201 && r.status !== 409) {
      throw new Error(
        `creating ServiceAccount ${namespace}/${name}: ${r.status} ${
          JSON.stringify(r.json)
        }`,
      );
    }
  }

  async namespace(
    name: string,
    labels: Record<string, string> = {},
  ): Promise<void> {
    const r = await this.api("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, labels },
    });
    if (r.status !== 201 && r.status !== 409) {
      throw new Error(
        `creating namespace ${name}: ${r.status} ${JSON.stringify(r.json)}`,
      );
    }
    await this.serviceAccount(name, "default");
  }

  async token(
    namespace: string,
    sa: string,
    opts: TokenOptions = {},
  ): Promise<string> {
    const r = await this.must(
      "POST",
      `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          ...(opts.audiences ? { audiences: opts.audiences } : {}),
          expirationSeconds: opts.expirationSeconds ?? 3600,
          ...(opts.pod
            ? {
              boundObjectRef: {
                apiVersion: "v1",
                kind: "Pod",
                name: opts.pod.name,
                uid: opts.pod.uid,
              },
            }
            : {}),
        },
      },
    );
    return r.json.status.token;
  }

  kubectl(args: string[], stdin?: string): Promise<Deno.CommandOutput> {
    const child = new Deno.Command(this.binaries.kubectl, {
      args: [`--kubeconfig=${this.kubeconfig}`, ...args],
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      w.write(new TextEncoder().encode(stdin)).then(() => w.close());
    }
    return child.output();
  }

  logTail(lines = 30): string {
    return tail(this.#apiserver.log, lines);
  }

  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      globalThis.removeEventListener("unload", this.#onUnload);
      await this.#apiserver.stop();
      await this.#etcd.stop();
      this.#client.close();
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
  }

  #killNow(): void {
    for (const d of [this.#apiserver, this.#etcd]) {
      if (d.exited) continue;
      try {
        Deno.kill(d.child.pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
}

/**
 * Starts etcd and a kube-apiserver (building the apiserver first when the
 * cache lacks it) and creates the `default` ServiceAccount in `default`.
 *
 * @example
 * ```ts
 * const k = await startKubeCluster();
 * try {
 *   await k.namespace("team-a");
 *   const jwt = await k.token("team-a", "default");
 * } finally {
 *   await k.stop();
 * }
 * ```
 */
export async function startKubeCluster(): Promise<KubeCluster> {
  const binaries = await kubeBinaries();
  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-kube-" });
  let etcd: Daemon | undefined;
  let apiserver: Daemon | undefined;
  try {
    const certs = await generateCerts({ dir: `${dir}/pki` });
    const saKey = `${dir}/pki/sa.key`;
    const saPub = `${dir}/pki/sa.pub`;
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      saKey,
    ]);
    await run("openssl", ["pkey", "-in", saKey, "-pubout", "-out", saPub]);
    const adminToken = [...crypto.getRandomValues(new Uint8Array(24))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(
      `${dir}/pki/tokens.csv`,
      `${adminToken},admin,admin-uid,"system:masters"\n`,
      { mode: 0o600 },
    );
    const started = await startEtcd(dir);
    etcd = started.daemon;
    const probe = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(certs.caCert)],
    });
    let server = "";
    try {
      apiserver = await onFreePorts("apiserver", dir, async (log) => {
        const port = freePort();
        server = `https://127.0.0.1:${port}`;
        const daemon = new Daemon(
          binaries.apiserver,
          [
            `--etcd-servers=${started.url}`,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            `--secure-port=${port}`,
            // With a loopback advertise address the endpoint reconciler
            // refuses to start; nothing here needs the kubernetes Service's
            // endpoints.
            "--endpoint-reconciler-type=none",
            `--tls-cert-file=${certs.serverCert}`,
            `--tls-private-key-file=${certs.serverKey}`,
            `--token-auth-file=${dir}/pki/tokens.csv`,
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            `--service-account-key-file=${saPub}`,
            `--service-account-signing-key-file=${saKey}`,
            "--service-cluster-ip-range=10.96.0.0/16",
            "--profiling=false",
            "--v=1",
          ],
          log,
          dir,
        );
        await ready(daemon, "kube-apiserver", 60000, async () => {
          const r = await fetch(`${server}/readyz`, {
            client: probe,
            headers: { Authorization: `Bearer ${adminToken}` },
            signal: AbortSignal.timeout(5000),
          });
          await r.body?.cancel();
          return r.status === 200;
        });
        return daemon;
      });
    } finally {
      probe.close();
    }
    const k = new Cluster({
      server,
      caCert: certs.caCert,
      adminToken,
      binaries,
      dir,
      etcd,
      apiserver,
    });
    await k.serviceAccount("default", "default");
    return k;
  } catch (e) {
    await apiserver?.stop();
    await etcd?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
