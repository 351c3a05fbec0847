/**
 * What to read and where each value goes, from CLOUDTASER_SECRET_PATHS +
 * CLOUDTASER_ENV_MAP and from vault-env style references in the environment
 * (`NAME=vault:PATH#KEY[#VERSION]`). Pure: no I/O, no logging.
 *
 * ```text
 * CLOUDTASER_SECRET_PATHS=secret/data/app/db,kv/app?version=2
 * CLOUDTASER_ENV_MAP=user=DB_USER,password=DB_PASSWORD;token=API_TOKEN
 *                    '--------- secret/data/app/db ------' '--- kv/app ---'
 * API_KEY=vault:secret/data/app/api#key#3
 * ```
 *
 * A path without a map group (or with an empty one) imports every key, the
 * key name used as the env name.
 */
import type { Config } from "../config/parse.ts";
import { dangerousNameProblem } from "../config/dangerous_names.ts";
import { VaultError } from "./errors.ts";

/** One value to deliver: `field` of the secret becomes env `env`. */
export interface FieldTarget {
  field: string;
  env: string;
  /** Where this mapping was configured, for error messages. */
  source: string;
}

/** One distinct (path, version) to read, once. */
export interface PathRead {
  /** As configured, without leading or trailing slashes. */
  path: string;
  /** KV v2 version; undefined reads the latest. */
  version?: number;
  /** Set (to the configuring source) when every key is imported. */
  importAll?: string;
  targets: FieldTarget[];
}

/** The whole plan, in configuration order. */
export interface SecretPlan {
  reads: PathRead[];
  /** Env name → the source that sets it (mapped names only). */
  envSources: Map<string, string>;
  /** CLOUDTASER_ALLOW_DANGEROUS_NAMES: names a secret may take anyway. */
  allowedNames: ReadonlySet<string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `name` can be an environment variable name. */
export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

function normalizePath(p: string): string {
  return p.trim().replace(/^\/+(v1\/)?/, "").replace(/\/+$/, "");
}

function parseVersion(v: string, where: string): number {
  if (!/^[1-9]\d{0,9}$/.test(v)) {
    throw new VaultError(
      "config",
      `${where}: version ${JSON.stringify(v)} is not a positive whole number`,
    );
  }
  return Number(v);
}

/** `path?version=N` → [path, N]. */
function splitVersion(
  entry: string,
  where: string,
): [string, number | undefined] {
  const q = entry.indexOf("?");
  if (q < 0) return [normalizePath(entry), undefined];
  const m = /^version=(.*)$/.exec(entry.slice(q + 1));
  if (!m) {
    throw new VaultError(
      "config",
      `${where}: only ?version=N may follow a path, got ${
        JSON.stringify(entry.slice(q))
      }`,
    );
  }
  return [normalizePath(entry.slice(0, q)), parseVersion(m[1], where)];
}

class Builder {
  readonly reads: PathRead[] = [];
  readonly envSources = new Map<string, string>();
  readonly #byKey = new Map<string, PathRead>();
  constructor(readonly allowed: ReadonlySet<string>) {}

  read(path: string, version: number | undefined): PathRead {
    const key = `${path}\0${version ?? ""}`;
    let r = this.#byKey.get(key);
    if (!r) {
      r = { path, version, targets: [] };
      this.#byKey.set(key, r);
      this.reads.push(r);
    }
    return r;
  }

  target(r: PathRead, field: string, env: string, source: string): void {
    if (!isEnvName(env)) {
      throw new VaultError(
        "config",
        `${source}: ${JSON.stringify(env)} is not a valid environment ` +
          "variable name (letters, digits and _, not starting with a digit)",
      );
    }
    const danger = dangerousNameProblem(env, source, this.allowed);
    if (danger) throw new VaultError("config", danger);
    const before = this.envSources.get(env);
    if (before !== undefined) {
      throw new VaultError(
        "duplicate",
        `${env} is set twice: by ${before} and by ${source}`,
      );
    }
    this.envSources.set(env, source);
    r.targets.push({ field, env, source });
  }
}

/**
 * Builds the plan; a malformed entry, an invalid env name or a name set
 * twice is a {@link VaultError} naming the variable.
 *
 * @example
 * ```ts
 * const plan = planSecrets(parseConfig(env));
 * plan.reads.map((r) => r.path); // ["secret/data/app/db", "kv/app"]
 * ```
 */
export function planSecrets(config: Config): SecretPlan {
  const b = new Builder(
    new Set(config.list("CLOUDTASER_ALLOW_DANGEROUS_NAMES")),
  );
  // Empty entries ("a,,b") were refused by the table's list kind.
  const paths = config.list("CLOUDTASER_SECRET_PATHS");
  const mapText = config.string("CLOUDTASER_ENV_MAP");
  const groups = mapText === undefined ? [] : mapText.split(";");
  if (groups.length > paths.length) {
    throw new VaultError(
      "config",
      `CLOUDTASER_ENV_MAP has ${groups.length} ';'-separated groups but ` +
        `CLOUDTASER_SECRET_PATHS lists ${paths.length} path(s): one group ` +
        "per path, in the same order",
    );
  }
  paths.forEach((entry, i) => {
    const where = `CLOUDTASER_SECRET_PATHS entry ${i + 1}`;
    const [path, version] = splitVersion(entry, where);
    if (path === "") throw new VaultError("config", `${where} is empty`);
    const r = b.read(path, version);
    const pairs = (groups[i] ?? "").split(",").map((p) => p.trim())
      .filter((p) => p !== "");
    if (pairs.length === 0) {
      r.importAll ??= `CLOUDTASER_SECRET_PATHS (${entry.trim()}, every key)`;
      return;
    }
    for (const pair of pairs) {
      const eq = pair.lastIndexOf("=");
      if (eq <= 0 || eq === pair.length - 1) {
        throw new VaultError(
          "config",
          `CLOUDTASER_ENV_MAP group ${i + 1}: ${JSON.stringify(pair)} is ` +
            "not field=ENV_NAME",
        );
      }
      const field = pair.slice(0, eq).trim();
      b.target(
        r,
        field,
        pair.slice(eq + 1).trim(),
        `CLOUDTASER_ENV_MAP (${path}#${field})`,
      );
    }
  });
  for (const [name, value] of Object.entries(config.env)) {
    if (!value.startsWith("vault:")) continue;
    const parts = value.slice("vault:".length).split("#");
    const where = `env ${name}=${value}`;
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
      throw new VaultError(
        "config",
        `${where}: expected vault:PATH#KEY or vault:PATH#KEY#VERSION`,
      );
    }
    const version = parts[2] === undefined
      ? undefined
      : parseVersion(parts[2], where);
    b.target(b.read(normalizePath(parts[0]), version), parts[1], name, where);
  }
  return { reads: b.reads, envSources: b.envSources, allowedNames: b.allowed };
}
