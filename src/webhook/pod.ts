/**
 * The parts of a Kubernetes Pod the webhook reads and writes. Everything
 * else in the object passes through untouched (the index signatures).
 */

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [k: string]: unknown;
}

export interface Probe {
  exec?: { command?: string[] };
  [k: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  [k: string]: unknown;
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  hostPath?: { path: string; type?: string };
  secret?: { secretName: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  spec?: {
    containers?: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
    serviceAccountName?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** `namespace/name` (or `generateName*`) for messages and logs. */
export function podName(pod: Pod, namespace?: string): string {
  const m = pod.metadata ?? {};
  const name = m.name || (m.generateName ? `${m.generateName}*` : "(unnamed)");
  return `${namespace ?? m.namespace ?? "(namespace?)"}/${name}`;
}

/**
 * True when `have` holds everything in `want` (objects: every key of
 * `want`, recursively; arrays: same length, element by element). The API
 * server adds defaults (imagePullPolicy, terminationMessagePath, ...) to
 * what the webhook wrote; they must not make a second pass see a change.
 */
export function covers(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && have.length === want.length &&
      want.every((w, i) => covers(have[i], w));
  }
  if (typeof want === "object" && want !== null) {
    if (typeof have !== "object" || have === null || Array.isArray(have)) {
      return false;
    }
    const h = have as Record<string, unknown>;
    return Object.entries(want).every(([k, v]) =>
      v === undefined || covers(h[k], v)
    );
  }
  return have === want;
}
