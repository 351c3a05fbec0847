/**
 * What the container tests of one file share, set up once: a podman storage
 * root, the wrapper image and the app images, a real OpenBao holding the test
 * secrets, its client certificate as a pod would mount it, and a memory
 * volume into which the wrapper image has installed itself, as an init
 * container does:
 *
 * ```text
 * podman run --user 65534:65534 --read-only --cap-drop ALL \
 *   -v MEMVOL:/cloudtaser cloudtaser-wrapper:test          (CMD: install /cloudtaser)
 * podman run ... -v MEMVOL:/cloudtaser:ro -v TLS:/vault-tls:ro \
 *   --entrypoint /cloudtaser/cloudtaser-wrapper ct-app-KIND:test -- /app NAMES...
 * ```
 */
import assert from "node:assert/strict";
import {
  APP,
  type AppKind,
  buildAppImage,
  buildWrapperImage,
  type WrapperImage,
} from "./images.ts";
import { randomMarker } from "./markers.ts";
import { put, sharedServer } from "./openbao/mod.ts";
import {
  type Container,
  Podman,
  type PodmanResult,
  type RunOptions,
} from "./podman.ts";

/** Where the memory volume is mounted, in both containers. */
export const INSTALL_DIR = "/cloudtaser";
/** The wrapper as the app container runs it. */
export const WRAPPER = `${INSTALL_DIR}/cloudtaser-wrapper`;
const TLS_DIR = "/vault-tls";

/** The secrets, by the name the app reads them under. */
export interface Secrets {
  DB_PASSWORD: string;
  API_KEY: string;
}

/** A restricted pod's settings (Kubernetes' restricted Pod Security Standard). */
export const HARDENED: Partial<RunOptions> = {
  user: "65534:65534",
  readOnly: true,
  capDrop: ["ALL"],
  noNewPrivileges: true,
};

/** Everything one test file needs; `close()` it once at the end. */
export class Fixture {
  readonly outputs: string[] = [];
  private constructor(
    readonly podman: Podman,
    readonly wrapper: WrapperImage,
    readonly apps: Map<AppKind, string>,
    readonly secrets: Secrets,
    readonly install: PodmanResult,
    readonly volume: string,
    readonly tls: string,
    readonly vaultEnv: Record<string, string>,
    readonly stop: () => Promise<void>,
  ) {}

  /** Builds the images, starts OpenBao, installs the wrapper. */
  static async open(kinds: AppKind[]): Promise<Fixture> {
    const podman = await Podman.open();
    const { server, stop } = sharedServer();
    try {
      const wrapper = await buildWrapperImage(podman);
      console.log(`wrapper image: ${wrapper.note}`);
      const apps = new Map<AppKind, string>();
      for (const k of kinds) apps.set(k, await buildAppImage(podman, k));
      const bao = await server();
      const secrets: Secrets = {
        DB_PASSWORD: randomMarker("CTC", "db", 12),
        API_KEY: randomMarker("CTC", "api", 12),
      };
      await put(bao, "secret/data/ctr/db", { password: secrets.DB_PASSWORD });
      await put(bao, "secret/data/ctr/api", { key: secrets.API_KEY });
      // As a Kubernetes Secret volume mounts them: readable by the pod's user.
      const tls = `${podman.dir}/vault-tls`;
      await Deno.mkdir(tls, { mode: 0o755 });
      await Deno.chmod(tls, 0o755);
      for (
        const [from, name] of [
          [bao.caCert, "ca.crt"],
          [bao.clientCert, "tls.crt"],
          [bao.clientKey, "tls.key"],
        ]
      ) {
        await Deno.copyFile(from, `${tls}/${name}`);
        await Deno.chmod(`${tls}/${name}`, 0o644);
      }
      const volume = await podman.memoryVolume("cloudtaser");
      const install = await podman.runToEnd({
        image: wrapper.tag,
        ...HARDENED,
        mounts: [{ source: volume, target: INSTALL_DIR }],
      });
      const vaultEnv = {
        VAULT_ADDR: bao.addr,
        VAULT_CACERT: `${TLS_DIR}/ca.crt`,
        VAULT_CLIENT_CERT: `${TLS_DIR}/tls.crt`,
        VAULT_CLIENT_KEY: `${TLS_DIR}/tls.key`,
        VAULT_AUTH_METHOD: "cert",
        VAULT_AUTH_ROLE: "app",
        CLOUDTASER_SECRET_PATHS: "secret/data/ctr/db,secret/data/ctr/api",
        CLOUDTASER_ENV_MAP: "password=DB_PASSWORD;key=API_KEY",
      };
      const f = new Fixture(
        podman,
        wrapper,
        apps,
        secrets,
        install,
        volume,
        tls,
        vaultEnv,
        stop,
      );
      f.outputs.push(install.stdout, install.stderr);
      return f;
    } catch (e) {
      await stop();
      await podman.close();
      throw e;
    }
  }

  /**
   * Starts the app of `kind` under the installed wrapper with `opts`
   * (user, capabilities, ...); the wrapper reaches OpenBao on the host's
   * loopback (`--network=host`).
   */
  startApp(
    kind: AppKind,
    opts: Partial<RunOptions> = {},
    env: Record<string, string> = {},
  ): Promise<Container> {
    return this.podman.start({
      image: this.apps.get(kind)!,
      network: "host",
      ...opts,
      entrypoint: [WRAPPER],
      command: ["--", APP, "DB_PASSWORD", "API_KEY"],
      env: { ...this.vaultEnv, ...env },
      mounts: [
        { source: this.volume, target: INSTALL_DIR, readOnly: true },
        { source: this.tls, target: TLS_DIR, readOnly: true },
      ],
    });
  }

  /** Starts the app of `kind` alone (no wrapper), with `opts`. */
  startBareApp(kind: AppKind, opts: Partial<RunOptions> = {}) {
    return this.podman.start({
      image: this.apps.get(kind)!,
      ...opts,
      entrypoint: [APP],
      command: [],
    });
  }

  /** The container's output, kept for the final no-secret check. */
  async logs(c: Container): Promise<{ stdout: string; stderr: string }> {
    const l = await c.logs();
    this.outputs.push(l.stdout, l.stderr);
    return l;
  }

  /** Fails if any output of this file holds a test secret. */
  assertNoSecretInOutput(): void {
    assert.ok(this.outputs.length > 0, "no output was captured at all");
    const all = this.outputs.join("\n");
    for (const s of Object.values(this.secrets)) {
      assert.ok(!all.includes(s), "a test secret reached the output");
    }
  }

  async close(): Promise<void> {
    try {
      await this.stop();
    } finally {
      await this.podman.close();
    }
  }
}

/** What the app (c/container/app.c) reported about itself. */
export interface AppReport {
  pid: number;
  ppid: number;
  uid: number;
  capEff: string;
  seccomp: string;
  noNewPrivs: string;
  memlock: string;
  env: string[];
  secrets: Map<string, { len: number; fnv: string; inEnviron: boolean }>;
  memfdSecret: string;
  memfdSecretMmap: string;
  mlock: string;
  interposer: boolean;
  orphan: boolean;
  signals: string[];
}

/** Parses the app's "app ..." lines. */
export function parseApp(stdout: string): AppReport {
  const field = (re: RegExp) => {
    const m = stdout.match(re);
    if (!m) throw new Error(`app output lacks ${re}:\n${stdout}`);
    return m[1];
  };
  const secrets: AppReport["secrets"] = new Map();
  for (
    const m of stdout.matchAll(
      /^app secret (\S+) len=(\d+) fnv=([0-9a-f]{16}) environ=(-?\d)$/gm,
    )
  ) {
    secrets.set(m[1], {
      len: Number(m[2]),
      fnv: m[3],
      inEnviron: m[4] === "1",
    });
  }
  const env = field(/^app env=(.*)$/m);
  return {
    pid: Number(field(/^app pid=(\d+)/m)),
    ppid: Number(field(/^app pid=\d+ ppid=(\d+)/m)),
    uid: Number(field(/ uid=(\d+)/m)),
    capEff: field(/^app capeff=(\S+)/m),
    seccomp: field(/ seccomp=(\S+)/m),
    noNewPrivs: field(/ nonewprivs=(\S+)/m),
    memlock: field(/ memlock=(\S+)/m),
    env: env ? env.split(",") : [],
    secrets,
    memfdSecret: field(/^app probe memfd_secret=(\S+)/m),
    memfdSecretMmap: field(/^app probe memfd_secret=\S+ mmap=(\S+)/m),
    mlock: field(/^app probe mlock=(\S+)/m),
    interposer: field(/^app interposer=(\S+)/m) === "loaded",
    orphan: field(/^app orphan=(\S+)/m) === "started",
    signals: [...stdout.matchAll(/^app signal (\S+)$/gm)].map((m) => m[1]),
  };
}

/** FNV-1a 64 of a string's UTF-8 bytes, as the app prints it. */
export function fnv1a64(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** The wrapper's JSON log lines in a container's stderr. */
export function wrapperLog(stderr: string): Array<Record<string, unknown>> {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
}

/** Polls `fn` until it returns a value other than undefined, or throws. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let delay = 20;; delay = Math.min(delay * 2, 250)) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
