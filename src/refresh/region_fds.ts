/**
 * The regions a refresh process gets and gives as fds (docs/refresh.md "A
 * refresh process"): memfd_secret files it maps and closes at once, and
 * the sealed configuration memfd.
 */
import * as native from "../../ffi/shim.ts";
import { CONFIG_PREFIXES } from "../config/table.ts";
import type { SecretRegion } from "../region/secret_region.ts";
import { openSecrets, type Secrets } from "../sdk/open_secrets.ts";

/** Never in the configuration memfd: the token goes in the token region. */
const NEVER = new Set(["VAULT_TOKEN", "BAO_TOKEN"]);

/**
 * The configuration memfd's entries: the wrapper's `VAULT_*`, `BAO_*` and
 * `CLOUDTASER_*` settings (never the token) and the app's `vault:`
 * references, `KEY=VALUE` each. No secret value: references name paths.
 */
export function configEntries(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env)
    .filter(([k, v]) =>
      !NEVER.has(k) &&
      (CONFIG_PREFIXES.some((p) => k.startsWith(p)) || v.startsWith("vault:"))
    )
    .map(([k, v]) => `${k}=${v}`);
}

/** `KEY=VALUE\0` entries back into an environment record. */
export function parseConfigEntries(bytes: Uint8Array): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of new TextDecoder().decode(bytes).split("\0")) {
    const eq = e.indexOf("=");
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return env;
}

/** Reads a (sealed) memfd whole through its /proc link, then closes it. */
export function readConfigFd(fd: number): Uint8Array {
  try {
    return Deno.readFileSync(`/proc/self/fd/${fd}`);
  } finally {
    native.close(fd);
  }
}

/** Maps a region fd read-only between guard pages and closes the fd. */
export function mapRegionFd(fd: number): Secrets {
  return openSecrets({ fd, unsetEnv: false });
}

/**
 * Fills an empty memfd_secret `fd` with a copy of `region` (header,
 * records, canary: a complete region), then closes it. The copy goes page
 * to page in native memory; no JS buffer holds a value.
 */
export function writeRegionFd(fd: number, region: SecretRegion): void {
  try {
    fillRegionFd(fd, region);
  } finally {
    native.close(fd);
  }
}

/** {@link writeRegionFd} without the close (the fd stays the caller's). */
export function fillRegionFd(fd: number, region: SecretRegion): void {
  native.ftruncate(fd, region.size);
  const at = native.mmap(
    0n,
    region.size,
    native.PROT.READ | native.PROT.WRITE,
    native.MAP.SHARED,
    fd,
  );
  try {
    native.viewOf(at, region.size).set(
      native.viewOf(region.address, region.size),
    );
  } finally {
    native.munmap(at, region.size);
  }
}

/** Closes an fd the refresh does not use (it must not leak to anything). */
export function closeFd(fd: number | undefined): void {
  if (fd !== undefined) native.close(fd);
}
