/**
 * What the mutating webhook does to a pod. Pure: a pod in, a pod out (or a
 * refusal naming what to fix); no I/O, no Vault, no secret. Applying it to
 * its own output changes nothing (the webhook may be called twice:
 * `reinvocationPolicy: IfNeeded`).
 *
 * ```text
 * spec.volumes         + cloudtaser: emptyDir {medium: Memory}
 * spec.initContainers  + cloudtaser-install: IMAGE install /cloudtaser   (first)
 * each wrapped container:
 *   command  /app/server ...  ->  /cloudtaser/cloudtaser-wrapper -- /app/server ...
 *   env      + VAULT_* / CLOUDTASER_* from annotations and --set defaults
 *              (a variable the container sets itself is left alone)
 *   volumeMounts + /cloudtaser (read-only)
 * ```
 */
import { ConfigError, parseConfig } from "../config/parse.ts";
import { appCommand, CommandLineError } from "../cli/command_line.ts";
import { planSecrets } from "../vault/secret_plan.ts";
import { VaultError } from "../vault/errors.ts";
import {
  AnnotationError,
  CONTAINERS,
  EBPF,
  flag,
  INJECT,
  NAMES,
  ORIGINAL_COMMAND,
  STATUS,
  VARIABLE_ANNOTATIONS,
  VAULT_TLS_SECRET,
  WRAP_EXEC_PROBES,
} from "./annotations.ts";
import {
  type Container,
  covers,
  type EnvVar,
  type Pod,
  type Volume,
  type VolumeMount,
} from "./pod.ts";

/** How the webhook is configured (command-line flags of `webhook`). */
export interface InjectOptions {
  /** The wrapper image; its ENTRYPOINT is cloudtaser-wrapper. */
  image: string;
  /** The init container's imagePullPolicy; unset leaves the cluster default. */
  imagePullPolicy?: string;
  /** Variables every wrapped container gets unless the pod sets them. */
  defaults?: Record<string, string>;
  /**
   * sizeLimit of the memory-backed volume (it counts against the pod's
   * memory).
   * @default "256Mi"
   */
  volumeSize?: string;
}

/** The result: leave the pod alone, or this pod (maybe equal to the input). */
export type InjectResult =
  | { action: "skip"; reason: string }
  | { action: "inject"; pod: Pod; wrapped: string[] };

const VAULT_REF = "vault:";

function hasVaultRefs(c: Container): boolean {
  return (c.env ?? []).some((e) => e.value?.startsWith(VAULT_REF) === true);
}

function annotations(pod: Pod): Record<string, string> {
  return pod.metadata?.annotations ?? {};
}

/**
 * Whether the pod asked for the wrapper: `cloudtaser.io/inject` as an
 * annotation or a label, or else any container env value that is a
 * `vault:` reference (a bank-vaults manifest). An explicit `"false"` wins.
 */
export function optedIn(pod: Pod): boolean {
  const a = flag(annotations(pod)[INJECT], `annotation ${INJECT}`);
  const l = flag(pod.metadata?.labels?.[INJECT], `label ${INJECT}`);
  if (a === false || l === false) return false;
  if (a === true || l === true) return true;
  return (pod.spec?.containers ?? []).some(hasVaultRefs);
}

/**
 * The containers to wrap: those named in `cloudtaser.io/containers`, else
 * every container when the pod opted in by annotation or label, else those
 * with `vault:` references.
 */
export function selectContainers(pod: Pod): Container[] {
  const all = pod.spec?.containers ?? [];
  const listed = annotations(pod)[CONTAINERS];
  if (listed !== undefined) {
    const names = listed.split(",").map((s) => s.trim()).filter((s) => s);
    if (names.length === 0) {
      throw new AnnotationError(`${CONTAINERS} names no container`);
    }
    return names.map((n) => {
      const c = all.find((x) => x.name === n);
      if (!c) {
        throw new AnnotationError(
          `${CONTAINERS} names "${n}", which is not a container of this pod ` +
            `(containers: ${all.map((x) => x.name).join(", ")})`,
        );
      }
      return c;
    });
  }
  const explicit = annotations(pod)[INJECT] !== undefined ||
    pod.metadata?.labels?.[INJECT] !== undefined;
  return explicit ? all : all.filter(hasVaultRefs);
}

function isWrapped(command: string[] | undefined): boolean {
  return command?.[0] === NAMES.wrapper && command[1] === "--";
}

function wrap(command: string[]): string[] {
  return isWrapped(command) ? command : [NAMES.wrapper, "--", ...command];
}

/** The container's command under the wrapper, or a refusal saying what to add. */
function wrappedCommand(pod: Pod, c: Container): string[] {
  if (c.command && c.command.length > 0) return wrap(c.command);
  const a = annotations(pod);
  const key = a[`${ORIGINAL_COMMAND}.${c.name}`] !== undefined
    ? `${ORIGINAL_COMMAND}.${c.name}`
    : ORIGINAL_COMMAND;
  const text = a[key];
  if (text === undefined) {
    throw new AnnotationError(
      `container "${c.name}" has no command, and the webhook cannot see its ` +
        `image's ENTRYPOINT, so it cannot put the wrapper in front of it. ` +
        `Add command: [...] to the container, or the annotation ` +
        `${ORIGINAL_COMMAND}.${c.name}: '["/path/to/entrypoint", "arg"]' ` +
        `(the image's ENTRYPOINT, followed by its CMD when the container ` +
        `has no args)`,
    );
  }
  try {
    return wrap(appCommand([], text));
  } catch (e) {
    if (!(e instanceof CommandLineError)) throw e;
    throw new AnnotationError(
      `${key}: ${e.message.replaceAll("CLOUDTASER_ORIGINAL_CMD", "the value")}`,
    );
  }
}

/** Adds `add` entries whose names `list` lacks; keeps the order. */
function withNamed<T extends { name: string }>(
  list: T[] | undefined,
  add: T[],
): T[] {
  const out = [...(list ?? [])];
  for (const x of add) if (!out.some((y) => y.name === x.name)) out.push(x);
  return out;
}

/** Puts `x` in place of the entry with its name, or first / last. */
function upsert<T extends { name: string }>(
  list: T[] | undefined,
  x: T,
  where: "first" | "last",
): T[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((y) => y.name === x.name);
  if (i >= 0) {
    if (!covers(out[i], x)) out[i] = x;
  } else if (where === "first") out.unshift(x);
  else out.push(x);
  return out;
}

function withMount(mounts: VolumeMount[] | undefined, m: VolumeMount) {
  const out = [...(mounts ?? [])];
  const i = out.findIndex((x) => x.mountPath === m.mountPath);
  if (i < 0) out.push(m);
  else if (!covers(out[i], m)) out[i] = m;
  return out;
}

/** The variables the webhook sets for one container, lowest priority first. */
function injectedEnv(
  pod: Pod,
  opts: InjectOptions,
): EnvVar[] {
  const vars = new Map<string, string>();
  const a = annotations(pod);
  // Annotations over --set defaults; the container's own env over both
  // (withNamed keeps what the container has).
  for (const [k, v] of Object.entries(opts.defaults ?? {})) vars.set(k, v);
  for (const [annotation, variable] of VARIABLE_ANNOTATIONS) {
    if (a[annotation] !== undefined) vars.set(variable, a[annotation]);
  }
  if (a[VAULT_TLS_SECRET] !== undefined) {
    for (
      const [k, f] of [
        ["VAULT_CACERT", "ca.crt"],
        ["VAULT_CLIENT_CERT", "tls.crt"],
        ["VAULT_CLIENT_KEY", "tls.key"],
      ]
    ) if (!vars.has(k)) vars.set(k, `${NAMES.tlsDir}/${f}`);
  }
  return [...vars].map(([name, value]) => ({ name, value }));
}

/** Refuses configuration the wrapper would refuse at start, naming the source. */
function checkConfig(pod: Pod, c: Container): void {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  try {
    planSecrets(parseConfig(env));
  } catch (e) {
    if (!(e instanceof ConfigError || e instanceof VaultError)) throw e;
    const from = VARIABLE_ANNOTATIONS.filter(([a]) =>
      annotations(pod)[a] !== undefined
    ).map(([a, v]) => `${a} -> ${v}`);
    throw new AnnotationError(
      `container "${c.name}": ${e.message.replace(/\n\s*/g, "; ")}` +
        (from.length ? ` (set from annotations: ${from.join(", ")})` : ""),
    );
  }
}

function wrapProbes(c: Container): Container {
  const out = { ...c };
  for (
    const k of ["livenessProbe", "readinessProbe", "startupProbe"] as const
  ) {
    const p = c[k];
    if (p?.exec?.command?.length) {
      out[k] = { ...p, exec: { ...p.exec, command: wrap(p.exec.command) } };
    }
  }
  return out;
}

/**
 * Mutates a pod for the wrapper (see the module comment). Throws
 * {@link AnnotationError} when the pod opted in but cannot be wrapped as
 * it stands; the webhook refuses it with that message.
 */
export function injectPod(input: Pod, opts: InjectOptions): InjectResult {
  if (!optedIn(input)) {
    return { action: "skip", reason: "not opted in" };
  }
  const pod: Pod = structuredClone(input);
  pod.metadata ??= {};
  pod.spec ??= {};
  const a = annotations(pod);
  const selected = new Set(selectContainers(pod).map((c) => c.name));
  if (selected.size === 0) {
    return { action: "skip", reason: "no container selected" };
  }
  const ebpf = flag(a[EBPF], EBPF) === true;
  const probes = flag(a[WRAP_EXEC_PROBES], WRAP_EXEC_PROBES) === true;
  const tlsSecret = a[VAULT_TLS_SECRET];
  const env = injectedEnv(pod, opts);

  pod.spec.containers = (pod.spec.containers ?? []).map((c) => {
    if (!selected.has(c.name)) return c;
    let out: Container = {
      ...c,
      command: wrappedCommand(pod, c),
      env: withNamed(c.env, env),
      volumeMounts: withMount(c.volumeMounts, {
        name: NAMES.volume,
        mountPath: NAMES.dir,
        readOnly: true,
      }),
    };
    if (ebpf) {
      out.volumeMounts = withMount(out.volumeMounts, {
        name: NAMES.enforcerVolume,
        mountPath: NAMES.enforcerDir,
        readOnly: true,
      });
    }
    if (tlsSecret !== undefined) {
      out.volumeMounts = withMount(out.volumeMounts, {
        name: NAMES.tlsVolume,
        mountPath: NAMES.tlsDir,
        readOnly: true,
      });
    }
    if (probes) out = wrapProbes(out);
    checkConfig(pod, out);
    return out;
  });

  const install: Container = {
    name: NAMES.initContainer,
    image: opts.image,
    args: ["install", NAMES.dir],
    ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
    volumeMounts: [{ name: NAMES.volume, mountPath: NAMES.dir }],
  };
  pod.spec.initContainers = upsert(pod.spec.initContainers, install, "first");

  let volumes = upsert<Volume>(pod.spec.volumes, {
    name: NAMES.volume,
    emptyDir: { medium: "Memory", sizeLimit: opts.volumeSize ?? "256Mi" },
  }, "last");
  if (ebpf) {
    // Directory, not DirectoryOrCreate: on a node without the enforcer the
    // pod does not start, rather than starting unguarded.
    volumes = upsert<Volume>(volumes, {
      name: NAMES.enforcerVolume,
      hostPath: { path: NAMES.enforcerDir, type: "Directory" },
    }, "last");
  }
  if (tlsSecret !== undefined) {
    volumes = upsert<Volume>(volumes, {
      name: NAMES.tlsVolume,
      secret: { secretName: tlsSecret },
    }, "last");
  }
  pod.spec.volumes = volumes;
  pod.metadata.annotations = { ...a, [STATUS]: "injected" };
  return { action: "inject", pod, wrapped: [...selected] };
}
