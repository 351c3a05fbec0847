/**
 * The pod annotations the webhook reads, and the wrapper variable each one
 * sets (the variables themselves are defined once, in src/config/table.ts).
 * `cloudtaser.io/*` are cloudtaser's public names; the bank-vaults ones let
 * a bank-vaults manifest (`vault:` references in env) work unchanged.
 */
import type { SettingName } from "../config/table.ts";

/** The annotation (and label) prefix. */
export const PREFIX = "cloudtaser.io/";

/** `"true"` opts the pod in, `"false"` out (also as a label). */
export const INJECT = `${PREFIX}inject`;
/** Comma-separated container names to wrap (default: see selectContainers). */
export const CONTAINERS = `${PREFIX}containers`;
/**
 * The command to run when a container has no `command` (the webhook cannot
 * see an image's ENTRYPOINT): a JSON array, or words. `.<container>` after
 * the name scopes it to one container.
 */
export const ORIGINAL_COMMAND = `${PREFIX}original-command`;
/** `"true"`: mount the node enforcer's socket directory (hostPath). */
export const EBPF = `${PREFIX}ebpf`;
/** A Secret with `ca.crt`, `tls.crt`, `tls.key` for mTLS to Vault. */
export const VAULT_TLS_SECRET = `${PREFIX}vault-tls-secret`;
/** `"true"`: exec probes run under the wrapper too (one login per probe). */
export const WRAP_EXEC_PROBES = `${PREFIX}wrap-exec-probes`;
/** Set by the webhook on the pods it changed. */
export const STATUS = `${PREFIX}status`;

/** Annotation -> wrapper variable, in the order they are injected. */
export const VARIABLE_ANNOTATIONS: ReadonlyArray<
  readonly [annotation: string, variable: SettingName]
> = [
  [`${PREFIX}vault-address`, "VAULT_ADDR"],
  [`${PREFIX}vault-namespace`, "VAULT_NAMESPACE"],
  [`${PREFIX}vault-tls-server-name`, "VAULT_TLS_SERVER_NAME"],
  [`${PREFIX}vault-auth-method`, "VAULT_AUTH_METHOD"],
  [`${PREFIX}vault-role`, "VAULT_AUTH_ROLE"],
  [`${PREFIX}vault-auth-mount`, "VAULT_AUTH_MOUNT_PATH"],
  [`${PREFIX}secret-paths`, "CLOUDTASER_SECRET_PATHS"],
  [`${PREFIX}env-map`, "CLOUDTASER_ENV_MAP"],
  [`${PREFIX}delivery`, "CLOUDTASER_DELIVERY"],
  [`${PREFIX}min-score`, "CLOUDTASER_MIN_SCORE"],
  [`${PREFIX}require-memfd-secret`, "CLOUDTASER_REQUIRE_MEMFD_SECRET"],
  [`${PREFIX}require-mlock`, "CLOUDTASER_REQUIRE_MLOCK"],
  [`${PREFIX}log-level`, "CLOUDTASER_LOG_LEVEL"],
  // bank-vaults' webhook annotations for the same settings.
  ["vault.security.banzaicloud.io/vault-addr", "VAULT_ADDR"],
  ["vault.security.banzaicloud.io/vault-namespace", "VAULT_NAMESPACE"],
  ["vault.security.banzaicloud.io/vault-auth-method", "VAULT_AUTH_METHOD"],
  ["vault.security.banzaicloud.io/vault-role", "VAULT_AUTH_ROLE"],
  ["vault.security.banzaicloud.io/vault-path", "VAULT_AUTH_MOUNT_PATH"],
];

/** Names the webhook adds to a pod: a pod must not use them otherwise. */
export const NAMES = {
  /** The memory-backed emptyDir the wrapper is installed into. */
  volume: "cloudtaser",
  /** Where that volume is mounted, in the init and the app containers. */
  dir: "/cloudtaser",
  /** The installed wrapper. */
  wrapper: "/cloudtaser/cloudtaser-wrapper",
  initContainer: "cloudtaser-install",
  enforcerVolume: "cloudtaser-enforcer",
  /** The enforcer's hostPath socket directory (examples/enforcer-daemonset.yaml). */
  enforcerDir: "/run/cloudtaser",
  tlsVolume: "cloudtaser-vault-tls",
  tlsDir: "/var/run/secrets/cloudtaser/vault-tls",
} as const;

const TRUE = new Set(["true", "yes", "1", "on"]);
const FALSE = new Set(["false", "no", "0", "off"]);

/** A boolean annotation: true, false, or undefined when absent. */
export function flag(
  value: string | undefined,
  name: string,
): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new AnnotationError(
    `${name}: "${value}" is not true or false`,
  );
}

/** An annotation's value cannot be used; the pod is refused with this. */
export class AnnotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AnnotationError";
  }
}
