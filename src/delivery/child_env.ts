/**
 * buildChildEnv: the one place the application's environment is made, for
 * every delivery (STYLE.md: vault-env's daemon mode leaked what its exec
 * mode stripped because it built the env twice).
 */
import type { Delivery } from "../../ffi/constants.ts";
import { CONFIG_PREFIXES, type Setting, SETTINGS } from "../config/table.ts";

/** Inputs to {@link buildChildEnv}. */
export interface ChildEnvInput {
  /** The wrapper's own environment. */
  env: Record<string, string>;
  /** Names of the secret records in the region. */
  secretKeys: readonly string[];
  delivery: Delivery;
  /** Path of libcloudtaser_interposer.so (interposer delivery). */
  interposerPath?: string;
  /** Configuration variables the app may still see (CLOUDTASER_ENV_PASSTHROUGH). */
  passthrough?: readonly string[];
}

/** The child's environment, without the secret values. */
export interface ChildEnv {
  /**
   * `KEY=VALUE` entries that are not secrets, in a stable order. In `env`
   * delivery the supervisor appends the region's records to these; in the
   * other deliveries the app reads the region itself.
   */
  entries: string[];
  /** Names that were dropped, for the debug log (names only). */
  dropped: string[];
}

/** Thrown when the passthrough list asks for something that must not pass. */
export class ChildEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChildEnvError";
  }
}

const SENSITIVE = new Set(
  (SETTINGS as readonly Setting[]).filter((s) => s.sensitive).flatMap((s) =>
    s.alias ? [s.name, s.alias] : [s.name]
  ),
);

/** Variables the wrapper sets itself for the child. */
const OWNED = new Set(["CLOUDTASER_SECRET_FD", "LD_PRELOAD"]);

function isConfig(name: string): boolean {
  return CONFIG_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * Builds the child's non-secret environment: the wrapper's environment minus
 * its configuration (`CLOUDTASER_*`, `VAULT_*`, `BAO_*` unless passed
 * through), minus every name a secret will take and every `vault:` reference,
 * plus `LD_PRELOAD` for the interposer. `CLOUDTASER_SECRET_FD` is added by
 * the hand-over, which makes the fd (ffi/handover.ts).
 *
 * @example
 * ```ts
 * const { entries } = buildChildEnv({
 *   env: { PATH: "/bin", VAULT_ADDR: "https://vault:8200" },
 *   secretKeys: ["DB_PASSWORD"],
 *   delivery: "env",
 * });
 * // entries: ["PATH=/bin"]
 * ```
 */
export function buildChildEnv(input: ChildEnvInput): ChildEnv {
  const passthrough = new Set(input.passthrough ?? []);
  for (const name of passthrough) {
    if (SENSITIVE.has(name)) {
      throw new ChildEnvError(
        `CLOUDTASER_ENV_PASSTHROUGH names ${name}, a credential; it never ` +
          `reaches the app`,
      );
    }
  }
  const secrets = new Set(input.secretKeys);
  const entries: string[] = [];
  const dropped: string[] = [];
  const names = Object.keys(input.env).sort();
  for (const name of names) {
    const value = input.env[name];
    const drop = secrets.has(name) || value.startsWith("vault:") ||
      OWNED.has(name) || (isConfig(name) && !passthrough.has(name));
    if (drop) dropped.push(name);
    else entries.push(`${name}=${value}`);
  }
  if (input.delivery === "interposer") {
    if (!input.interposerPath) {
      throw new ChildEnvError("interposer delivery needs the interposer path");
    }
    const prior = input.env.LD_PRELOAD;
    entries.push(
      `LD_PRELOAD=${input.interposerPath}${prior ? ":" + prior : ""}`,
    );
  } else if (input.env.LD_PRELOAD !== undefined) {
    entries.push(`LD_PRELOAD=${input.env.LD_PRELOAD}`);
  }
  return { entries, dropped };
}
