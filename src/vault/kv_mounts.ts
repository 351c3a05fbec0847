/**
 * KV mounts: which mount a secret path is on and whether it is KV v1 or v2,
 * as the Vault CLI tells them apart (`sys/internal/ui/mounts/<path>`), cached
 * per mount; and the API path a read uses on it.
 */

/**
 * A mount: its path with a trailing `/` and its KV version; `dynamic` when
 * it is not KV (`database`, ...): a read there makes a lease
 * (docs/refresh.md "Dynamic secrets").
 */
export interface Mount {
  path: string; // "secret/"
  version: 1 | 2;
  dynamic?: boolean;
}

/** Mount types that hold static values (KV; `generic` is KV v1's old name). */
const KV_TYPES = new Set(["kv", "generic"]);

function firstSegment(path: string): string {
  return path.split("/")[0];
}

/**
 * The mounts looked up so far. Concurrent lookups under one first segment
 * wait for each other, so paths on one mount cost one lookup.
 */
export class MountCache {
  readonly #mounts: Mount[] = [];
  readonly #pending = new Map<string, Promise<unknown>>();

  /** The mount of `path`: cached, or found by `lookup` (then cached). */
  async of(
    path: string,
    lookup: (path: string) => Promise<Mount>,
  ): Promise<Mount> {
    const seg = firstSegment(path);
    for (;;) {
      const cached = this.#cached(path);
      if (cached) return cached;
      const pending = this.#pending.get(seg);
      if (!pending) break;
      await pending.catch(() => {});
      if (this.#pending.get(seg) === pending) this.#pending.delete(seg);
    }
    const p = lookup(path).then((m) => {
      this.#mounts.push(m);
      return m;
    });
    this.#pending.set(seg, p);
    try {
      return await p;
    } finally {
      if (this.#pending.get(seg) === p) this.#pending.delete(seg);
    }
  }

  #cached(path: string): Mount | undefined {
    return this.#mounts.find((m) => (path + "/").startsWith(m.path));
  }
}

/** Vault's CLI treats a 404 from the lookup (servers before 0.10) as KV v1. */
export function legacyMount(path: string): Mount {
  return { path: firstSegment(path) + "/", version: 1 };
}

/**
 * The mount from a lookup's answer: `data.path` (`mountPath`) and
 * `data.options.version` (`version`), either absent.
 */
export function mountFromAnswer(
  path: string,
  mountPath: string | undefined,
  version: string | undefined,
  type?: string,
): Mount {
  const at = mountPath ?? firstSegment(path) + "/";
  const m: Mount = {
    path: at.endsWith("/") ? at : at + "/",
    version: version === "2" ? 2 : 1,
  };
  if (type !== undefined && !KV_TYPES.has(type)) {
    m.dynamic = true;
    m.version = 1; // read as is: no data/ inserted, values under data
  }
  if (!(path + "/").startsWith(m.path)) {
    // A namespace-qualified answer; key the cache on the path itself.
    m.path = path.slice(0, path.indexOf("/") + 1) || path + "/";
  }
  return m;
}

/**
 * The API path: KV v2 needs `data/` after the mount. A path that already
 * has it (as cloudtaser and vault-env references write them) is kept; one
 * without gets it inserted, as `vault kv get` does.
 */
export function apiPath(path: string, mount: Mount): string {
  if (mount.version === 1 || mount.dynamic) return path;
  const rest = path.slice(mount.path.length);
  return rest.startsWith("data/") ? path : `${mount.path}data/${rest}`;
}
