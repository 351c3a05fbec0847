/**
 * Parses the environment against the table. Pure: the caller passes the
 * environment in, and nothing is logged here.
 */
import {
  type EnumName,
  type EnumValue,
  type Kind,
  type ListName,
  MAX_DURATION_MS,
  type Setting,
  type SettingName,
  SETTINGS,
} from "./table.ts";

/** One or more variables hold values the table does not accept. */
export class ConfigError extends Error {
  /** One entry per bad variable: `NAME: what was expected`. */
  readonly problems: string[];
  /**
   * Makes the error.
   *
   * @param problems one entry per bad variable
   */
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Validated values by name, read through typed getters, and the environment
 * they came from (for `vault:` references and the child's environment).
 * Made by {@link parseConfig}, once, in `main`.
 */
export class Config {
  /** The environment the values were read from. */
  readonly env: Readonly<Record<string, string>>;
  readonly #values: Map<string, string>;
  readonly #sources: Map<string, string>;
  /**
   * Made by {@link parseConfig}; the values are validated already.
   *
   * @param env the environment parsed
   * @param values validated values by name
   * @param sources the variable each value was read from (an alias or the name)
   */
  constructor(
    env: Readonly<Record<string, string>>,
    values: Map<string, string>,
    sources: Map<string, string>,
  ) {
    this.env = env;
    this.#values = values;
    this.#sources = sources;
  }
  /** The value, or the default, or undefined. */
  string(name: SettingName): string | undefined {
    return this.#values.get(name) ?? defaultOf(name);
  }
  /** True when the variable was set (not defaulted). */
  isSet(name: SettingName): boolean {
    return this.#values.has(name);
  }
  /** The name actually read (`BAO_ADDR` when that one was set). */
  source(name: SettingName): string {
    return this.#sources.get(name) ?? name;
  }
  /** A `bool` setting. */
  bool(name: SettingName): boolean {
    const v = this.string(name);
    return v !== undefined && TRUE.has(v.toLowerCase());
  }
  /** An `int` setting. */
  int(name: SettingName): number {
    return Number(this.string(name) ?? "0");
  }
  /** An `enum` setting: one of the table's values, or the default. */
  enum<N extends EnumName>(name: N): EnumValue<N> {
    return this.string(name) as EnumValue<N>;
  }
  /** A `list` setting: its words, trimmed; empty when unset. */
  list(name: ListName): string[] {
    const v = this.string(name);
    return v === undefined ? [] : splitList(v).filter((w) => w !== "");
  }
  /** A duration in milliseconds. */
  durationMs(name: SettingName): number {
    return parseDurationMs(this.string(name) ?? "0") ?? 0;
  }
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const BOOL = new Set([...TRUE, "0", "false", "no", "off"]);

function defaultOf(name: string): string | undefined {
  const s = (SETTINGS as readonly Setting[]).find((x) => x.name === name);
  return s?.default?.includes("<") ? undefined : s?.default;
}

/**
 * Parses a duration: plain seconds (`30`, `1.5`) or Go syntax (`1m30s`,
 * `500ms`). Returns milliseconds, or null when malformed.
 */
export function parseDurationMs(v: string): number | null {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const unit: Record<string, number> = { h: 3600e3, m: 60e3, s: 1e3, ms: 1 };
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
  let total = 0;
  let pos = 0;
  while (pos < v.length) {
    re.lastIndex = pos;
    const m = re.exec(v);
    if (!m) return null;
    total += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  return v.length ? total : null;
}

function splitList(v: string): string[] {
  return v.split(",").map((w) => w.trim());
}

function problem(s: Setting, src: string, v: string): string | null {
  const k: Kind = s.kind;
  const shown = s.sensitive ? "(value hidden)" : JSON.stringify(v);
  switch (k.type) {
    case "bool":
      return BOOL.has(v.toLowerCase())
        ? null
        : `${src}=${shown}: expected true or false`;
    case "int": {
      const n = Number(v);
      return /^\d+$/.test(v) && n >= k.min && n <= k.max
        ? null
        : `${src}=${shown}: expected a whole number from ${k.min} to ${k.max}`;
    }
    case "duration": {
      const ms = parseDurationMs(v);
      if (ms === null) {
        return `${src}=${shown}: expected seconds or a duration like 30s, 1m30s, 500ms`;
      }
      if (ms < 1 && !(k.zero && ms === 0)) {
        return `${src}=${shown}: must be at least 1ms${k.zero ? " or 0" : ""}`;
      }
      return ms > MAX_DURATION_MS
        ? `${src}=${shown}: at most ${MAX_DURATION_MS} ms (596h31m23s, ` +
          "the longest a timer can wait)"
        : null;
    }
    case "list": {
      if (v === "") return `${src} is set but empty`;
      const empty = splitList(v).indexOf("");
      // "a,,b", "a," or "," is a typo, not "fewer entries": refuse it.
      return k.empty === "refuse" && empty >= 0
        ? `${src} entry ${empty + 1} is empty (${shown}); list entries ` +
          "separated by single commas"
        : null;
    }
    case "enum":
      return k.values.includes(v)
        ? null
        : `${src}=${shown}: expected one of ${k.values.join(", ")}`;
    case "url":
      try {
        const u = new URL(v);
        return u.protocol === "https:" || u.protocol === "http:"
          ? null
          : `${src}=${shown}: expected an http(s) URL`;
      } catch {
        return `${src}=${shown}: expected a URL like https://vault:8200`;
      }
    case "file":
    case "string":
      return v === "" ? `${src} is set but empty` : null;
  }
}

function allowed(values: Map<string, string>, name: SettingName): boolean {
  return TRUE.has((values.get(name) ?? "").toLowerCase());
}

/**
 * Validates `env` against the table; throws {@link ConfigError} listing every
 * bad variable at once.
 *
 * @example
 * ```ts
 * const config = parseConfig(Deno.env.toObject());
 * config.string("VAULT_ADDR"); // "https://127.0.0.1:8200" by default
 * ```
 */
export function parseConfig(env: Record<string, string>): Config {
  const values = new Map<string, string>();
  const sources = new Map<string, string>();
  const problems: string[] = [];
  for (const s of SETTINGS as readonly Setting[]) {
    const src = s.alias && env[s.alias] !== undefined ? s.alias : s.name;
    const v = env[src];
    if (v === undefined) continue;
    const p = problem(s, src, v);
    if (p) problems.push(p);
    else {
      values.set(s.name, v);
      sources.set(s.name, src);
    }
  }
  const addr = values.get("VAULT_ADDR");
  if (
    addr?.startsWith("http:") &&
    !allowed(values, "CLOUDTASER_ALLOW_INSECURE_HTTP")
  ) {
    problems.push(
      `${sources.get("VAULT_ADDR")}=${JSON.stringify(addr)}: plain HTTP ` +
        "sends the Vault token and every secret in clear; use https://, or " +
        "set CLOUDTASER_ALLOW_INSECURE_HTTP=true to accept that (it costs " +
        "protection score)",
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return new Config(env, values, sources);
}
