/**
 * Runs what a stored Pod says, with podman, the way a kubelet would, for
 * end-to-end tests without a kubelet: the init containers in order (each
 * must exit 0), then each app container to completion.
 *
 * | pod spec | here |
 * |---|---|
 * | `emptyDir` (`medium: Memory`) | a tmpfs mounted on a host directory (what the kubelet does), bind-mounted into each container |
 * | `secret`, `configMap` | read through the API server, written to a directory, bind-mounted read-only |
 * | `projected` (the service-account volume the API server adds) | a TokenRequest token bound to the pod, the cluster CA, the namespace |
 * | `hostPath` | bind-mounted |
 * | `command` / `args` | the entrypoint / the words after the image; `$(VAR)` expanded as the kubelet does |
 * | `env` (`value`, `valueFrom.fieldRef` of name, namespace, serviceAccountName) | the container's env |
 * | `securityContext` runAsUser/Group, runAsNonRoot, readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation, seccompProfile RuntimeDefault | user, read-only root, dropped / added capabilities, no-new-privileges, the runtime's default seccomp profile |
 *
 * The engine runs each container (tests/support/podman.ts's
 * `Podman.runToEnd` fits {@linkcode ContainerEngine}).
 *
 * Anything else in a container or volume that would change what runs is
 * refused with an error rather than ignored. App containers run one after
 * the other, not side by side: tests use apps that print and exit.
 */
import type { Container, Pod, Volume } from "../../src/webhook/pod.ts";
import type { KubeCluster } from "./kube.ts";

/**
 * One container to run to its end: the fields of tests/support/podman.ts's
 * `RunOptions` that a pod spec sets (structurally the same, so its
 * `Podman.runToEnd` is a {@linkcode ContainerEngine} as it stands).
 */
export interface ContainerSpec {
  image: string;
  /** `--entrypoint` (the container's `command`). */
  entrypoint?: string[];
  /** The words after the image (the container's `args`). */
  command?: string[];
  user?: string;
  readOnly?: boolean;
  capDrop?: string[];
  capAdd?: string[];
  noNewPrivileges?: boolean;
  env?: Record<string, string>;
  mounts?: Array<{ source: string; target: string; readOnly?: boolean }>;
  network?: "none" | "host";
}

/** Runs one container to its end. */
export type ContainerEngine = (
  spec: ContainerSpec,
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Options of {@linkcode runPod}. */
export interface RunPodOptions {
  cluster: KubeCluster;
  /** The pod as the API server stores it (metadata.uid set). */
  pod: Pod;
  engine: ContainerEngine;
  /** Pod image name -> local image; names not listed are used as they are. */
  images?: Record<string, string>;
  /** @default "host" (the tests' OpenBao listens on the host's loopback) */
  network?: "none" | "host";
}

/** One container's run. */
export interface ContainerRun {
  name: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** The pod's run; `init` stops at the first failure, as a kubelet's would. */
export interface PodRun {
  init: ContainerRun[];
  containers: ContainerRun[];
}

/** Why the pod cannot be run faithfully. */
export class PodRunnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PodRunnerError";
  }
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new PodRunnerError(
      `${cmd} ${args.join(" ")}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** `$(VAR)` from `env`; `$$(VAR)` stays literal; unknown ones stay as written. */
export function expandRefs(s: string, env: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name) => {
    if (m === "$$") return "$";
    return env.has(name) ? env.get(name)! : m;
  });
}

const HANDLED_CONTAINER = new Set([
  "name",
  "image",
  "command",
  "args",
  "env",
  "volumeMounts",
  "securityContext",
  // Defaults and fields that do not change what a one-shot run does.
  "imagePullPolicy",
  "terminationMessagePath",
  "terminationMessagePolicy",
  "resources",
  "ports",
  "livenessProbe",
  "readinessProbe",
  "startupProbe",
]);

/** securityContext fields run here (seccompProfile: RuntimeDefault only). */
const SECURITY_CONTEXT = new Set([
  "runAsUser",
  "runAsGroup",
  "runAsNonRoot",
  "readOnlyRootFilesystem",
  "capabilities",
  "allowPrivilegeEscalation",
]);

class Runner {
  readonly #o: RunPodOptions;
  readonly #dir: string;
  readonly #mounts: string[] = [];
  /** Volume name -> host directory. */
  readonly #volumes = new Map<string, string>();

  constructor(o: RunPodOptions, dir: string) {
    this.#o = o;
    this.#dir = dir;
  }

  get #ns(): string {
    return this.#o.pod.metadata!.namespace!;
  }

  async prepare(): Promise<void> {
    for (const v of this.#o.pod.spec?.volumes ?? []) {
      this.#volumes.set(v.name, await this.#volume(v));
    }
  }

  async #volume(v: Volume): Promise<string> {
    const host = `${this.#dir}/volumes/${v.name}`;
    await Deno.mkdir(host, { recursive: true });
    if (v.emptyDir) {
      if (v.emptyDir.medium === "Memory") {
        const size = v.emptyDir.sizeLimit?.replace(/i$/, "").toLowerCase();
        await sh("mount", [
          "-t",
          "tmpfs",
          "-o",
          `mode=1777${size ? `,size=${size}` : ""}`,
          "tmpfs",
          host,
        ]);
        this.#mounts.push(host);
      } else {
        await Deno.chmod(host, 0o1777);
      }
      return host;
    }
    if (v.hostPath) return v.hostPath.path;
    if (v.secret) {
      const r = await this.#o.cluster.must(
        "GET",
        `/api/v1/namespaces/${this.#ns}/secrets/${v.secret.secretName}`,
      );
      for (const [k, b64] of Object.entries(r.json.data ?? {})) {
        const bin = atob(b64 as string);
        await Deno.writeFile(
          `${host}/${k}`,
          Uint8Array.from(bin, (c) => c.charCodeAt(0)),
          { mode: 0o644 },
        );
      }
      return host;
    }
    if (v.configMap) {
      const name = (v.configMap as { name: string }).name;
      const r = await this.#o.cluster.must(
        "GET",
        `/api/v1/namespaces/${this.#ns}/configmaps/${name}`,
      );
      for (const [k, text] of Object.entries(r.json.data ?? {})) {
        await Deno.writeTextFile(`${host}/${k}`, text as string);
      }
      return host;
    }
    if (v.projected) {
      await this.#projected(v, host);
      return host;
    }
    throw new PodRunnerError(
      `volume "${v.name}": only emptyDir, hostPath, secret, configMap and ` +
        `projected are run here (${Object.keys(v).join(", ")})`,
    );
  }

  async #projected(v: Volume, host: string): Promise<void> {
    const pod = this.#o.pod;
    // deno-lint-ignore no-explicit-any
    for (const src of (v.projected as { sources: any[] }).sources) {
      if (src.serviceAccountToken) {
        const t = src.serviceAccountToken;
        const jwt = await this.#o.cluster.token(
          this.#ns,
          pod.spec!.serviceAccountName ?? "default",
          {
            audiences: t.audience ? [t.audience] : undefined,
            expirationSeconds: t.expirationSeconds ?? 3600,
            pod: {
              name: pod.metadata!.name!,
              uid: pod.metadata!.uid as string,
            },
          },
        );
        await Deno.writeTextFile(`${host}/${t.path}`, jwt, { mode: 0o644 });
      } else if (src.configMap?.name === "kube-root-ca.crt") {
        // No controller manager publishes this ConfigMap here: the cluster
        // CA is what it would hold.
        await Deno.writeTextFile(`${host}/ca.crt`, this.#o.cluster.caPem);
      } else if (src.downwardAPI) {
        for (const item of src.downwardAPI.items) {
          if (item.fieldRef?.fieldPath !== "metadata.namespace") {
            throw new PodRunnerError(
              `volume "${v.name}": downwardAPI ${item.fieldRef?.fieldPath}`,
            );
          }
          await Deno.writeTextFile(`${host}/${item.path}`, this.#ns);
        }
      } else {
        throw new PodRunnerError(
          `volume "${v.name}": projected source ${JSON.stringify(src)}`,
        );
      }
    }
  }

  #env(c: Container): Map<string, string> {
    const env = new Map<string, string>();
    const pod = this.#o.pod;
    const fields: Record<string, string | undefined> = {
      "metadata.name": pod.metadata?.name,
      "metadata.namespace": this.#ns,
      "spec.serviceAccountName": pod.spec?.serviceAccountName,
    };
    if (c.envFrom) throw new PodRunnerError(`container "${c.name}": envFrom`);
    for (const e of c.env ?? []) {
      if (e.valueFrom !== undefined) {
        const path = (e.valueFrom as { fieldRef?: { fieldPath?: string } })
          .fieldRef?.fieldPath;
        const v = path ? fields[path] : undefined;
        if (v === undefined) {
          throw new PodRunnerError(
            `container "${c.name}": env ${e.name} valueFrom ${
              JSON.stringify(e.valueFrom)
            }`,
          );
        }
        env.set(e.name, v);
      } else {
        env.set(e.name, expandRefs(e.value ?? "", env));
      }
    }
    return env;
  }

  #spec(c: Container): ContainerSpec {
    for (const k of Object.keys(c)) {
      if (!HANDLED_CONTAINER.has(k)) {
        throw new PodRunnerError(`container "${c.name}": ${k} is not run here`);
      }
    }
    const env = this.#env(c);
    const mounts: ContainerSpec["mounts"] = [];
    for (const m of c.volumeMounts ?? []) {
      const host = this.#volumes.get(m.name);
      if (host === undefined) {
        throw new PodRunnerError(
          `container "${c.name}" mounts "${m.name}", which is not a volume`,
        );
      }
      if (m.subPath) {
        throw new PodRunnerError(`container "${c.name}": subPath`);
      }
      mounts.push({
        source: host,
        target: m.mountPath,
        readOnly: m.readOnly === true,
      });
    }
    const sc = this.#securityContext(c);
    const caps = sc.capabilities as { drop?: string[]; add?: string[] } ?? {};
    const user = sc.runAsUser === undefined
      ? undefined
      : `${sc.runAsUser}${
        sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ""
      }`;
    const expand = (l: string[]) => l.map((s) => expandRefs(s, env));
    return {
      image: this.#o.images?.[c.image!] ?? c.image!,
      ...(c.command?.length ? { entrypoint: expand(c.command) } : {}),
      ...(c.args?.length ? { command: expand(c.args) } : {}),
      ...(user !== undefined ? { user } : {}),
      readOnly: sc.readOnlyRootFilesystem === true,
      capDrop: caps.drop ?? [],
      capAdd: caps.add ?? [],
      noNewPrivileges: sc.allowPrivilegeEscalation === false,
      env: Object.fromEntries(env),
      mounts,
      network: this.#o.network ?? "host",
    };
  }

  /** The pod's securityContext under the container's; refuses what it cannot run. */
  #securityContext(c: Container): Record<string, unknown> {
    const sc: Record<string, unknown> = {
      ...(this.#o.pod.spec?.securityContext as Record<string, unknown> ?? {}),
      ...(c.securityContext as Record<string, unknown> ?? {}),
    };
    for (const [k, v] of Object.entries(sc)) {
      const runtimeDefault = k === "seccompProfile" &&
        (v as { type?: string }).type === "RuntimeDefault";
      if (!runtimeDefault && !SECURITY_CONTEXT.has(k)) {
        throw new PodRunnerError(
          `container "${c.name}": securityContext.${k} is not run here`,
        );
      }
    }
    if (sc.runAsNonRoot === true && (sc.runAsUser ?? 0) === 0) {
      throw new PodRunnerError(
        `container "${c.name}": runAsNonRoot without a non-zero runAsUser`,
      );
    }
    return sc;
  }

  async run(c: Container): Promise<ContainerRun> {
    return { name: c.name, ...(await this.#o.engine(this.#spec(c))) };
  }

  async cleanup(): Promise<void> {
    for (const m of this.#mounts) await sh("umount", [m]).catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs the pod's init containers, then its containers (see the module
 * comment). Never throws for a container that fails: its exit code is in
 * the result.
 */
export async function runPod(o: RunPodOptions): Promise<PodRun> {
  if (!o.pod.metadata?.uid || !o.pod.metadata.namespace) {
    throw new PodRunnerError("runPod needs the stored pod (uid, namespace)");
  }
  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-pod-" });
  const r = new Runner(o, dir);
  const result: PodRun = { init: [], containers: [] };
  try {
    await r.prepare();
    for (const c of o.pod.spec?.initContainers ?? []) {
      const run = await r.run(c);
      result.init.push(run);
      if (run.code !== 0) return result;
    }
    for (const c of o.pod.spec?.containers ?? []) {
      result.containers.push(await r.run(c));
    }
    return result;
  } finally {
    await r.cleanup();
  }
}
