/**
 * The configuration table: every environment variable the wrapper reads, in
 * one place (STYLE.md "Distilled" 4). Parsing, `--help` and the README's
 * table are generated from it.
 */

import { CAPTURED_SIGNALS, DELIVERIES } from "../../ffi/constants.ts";

/** How a variable's value is validated. */
export type Kind =
  | { type: "string" }
  /**
   * Comma-separated words, blanks around each trimmed. `empty`: what an
   * empty entry (`a,,b`, a trailing comma) means: a typo to refuse, or
   * nothing.
   */
  | { type: "list"; empty: "refuse" | "ignore" }
  | { type: "bool" }
  | { type: "int"; min: number; max: number }
  /**
   * Seconds or Go-style "1m30s", "500ms"; 1 ms to MAX_DURATION_MS (`zero`:
   * 0 is accepted too).
   */
  | { type: "duration"; zero?: boolean }
  | { type: "enum"; values: readonly string[] }
  | { type: "url" }
  | { type: "file" }; // a path; existence is checked by whoever opens it

/** One row of the table. */
export interface Setting {
  /** The name read from the environment. */
  name: string;
  /** Read first when set (OpenBao's client prefers `BAO_*`). */
  alias?: string;
  kind: Kind;
  /** Shown in help; `undefined` means "unset". */
  default?: string;
  meaning: string;
  /** The value is a credential: never echoed in errors or help. */
  sensitive?: boolean;
  /** Whether the child sees it. Default false for everything in the table. */
}

const bool: Kind = { type: "bool" };
const str: Kind = { type: "string" };
const file: Kind = { type: "file" };
const names = { type: "list", empty: "ignore" } as const;
const duration = { type: "duration" } as const;

/**
 * Signals the supervisor may send the app for a change or a stop: the ones
 * it forwards, less SIGCONT (which stops nothing and reloads nothing).
 */
export const APP_SIGNALS = CAPTURED_SIGNALS.filter((s) => s !== "SIGCONT");

/** `CLOUDTASER_ON_CHANGE` values: restart, none, signal:NAME. */
export const ON_CHANGE_VALUES = [
  "restart",
  "none",
  ...APP_SIGNALS.map((s) => `signal:${s}`),
] as readonly string[];

/**
 * The longest duration a timer can wait: setTimeout and AbortSignal.timeout
 * take a signed 32-bit count of milliseconds (about 596 h 31 min); a longer
 * one fires at once.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Every variable, grouped as the help shows them. */
export const SETTINGS = [
  // Vault / OpenBao client, named as the Vault CLI names them.
  {
    name: "VAULT_ADDR",
    alias: "BAO_ADDR",
    kind: { type: "url" },
    default: "https://127.0.0.1:8200",
    meaning: "address of the Vault or OpenBao server",
  },
  {
    name: "VAULT_CACERT",
    alias: "BAO_CACERT",
    kind: file,
    meaning: "PEM file of the CA(s) that sign the server certificate; " +
      "without it and `VAULT_CAPATH`, the system's store (`SSL_CERT_FILE`, " +
      "`SSL_CERT_DIR`, `/etc/ssl/certs`)",
  },
  {
    name: "VAULT_CAPATH",
    alias: "BAO_CAPATH",
    kind: file,
    meaning: "directory of PEM CA certificates",
  },
  {
    name: "VAULT_CLIENT_CERT",
    alias: "BAO_CLIENT_CERT",
    kind: file,
    meaning: "PEM client certificate for mTLS",
  },
  {
    name: "VAULT_CLIENT_KEY",
    alias: "BAO_CLIENT_KEY",
    kind: file,
    meaning: "PEM private key of the client certificate",
  },
  {
    name: "VAULT_TLS_SERVER_NAME",
    alias: "BAO_TLS_SERVER_NAME",
    kind: str,
    meaning: "name to verify the server certificate against (SNI)",
  },
  {
    name: "VAULT_SKIP_VERIFY",
    alias: "BAO_SKIP_VERIFY",
    kind: bool,
    default: "false",
    meaning: "do not verify the server certificate (insecure; costs score)",
  },
  {
    name: "VAULT_NAMESPACE",
    alias: "BAO_NAMESPACE",
    kind: str,
    meaning: "namespace sent as X-Vault-Namespace",
  },
  {
    name: "VAULT_TOKEN",
    alias: "BAO_TOKEN",
    kind: str,
    sensitive: true,
    meaning: "token for VAULT_AUTH_METHOD=token (prefer VAULT_TOKEN_FILE)",
  },
  {
    name: "VAULT_MAX_RETRIES",
    alias: "BAO_MAX_RETRIES",
    kind: { type: "int", min: 0, max: 100 },
    default: "2",
    meaning: "retries after a connection error, 412, 429 or 5xx (not 501)",
  },
  {
    name: "VAULT_CLIENT_TIMEOUT",
    alias: "BAO_CLIENT_TIMEOUT",
    kind: { type: "duration" },
    default: "60s",
    meaning: "overall deadline for authenticating and fetching",
  },
  {
    name: "VAULT_AUTH_METHOD",
    kind: {
      type: "enum",
      values: ["kubernetes", "cert", "approle", "jwt", "token"],
    },
    default: "kubernetes",
    meaning: "how to log in",
  },
  {
    name: "VAULT_AUTH_ROLE",
    kind: str,
    meaning: "role to log in as (kubernetes, cert, jwt; approle role_id)",
  },
  {
    name: "VAULT_AUTH_MOUNT_PATH",
    kind: str,
    meaning: "auth mount path",
    default: "auth/<method>",
  },
  {
    name: "VAULT_TOKEN_FILE",
    kind: file,
    meaning: "file holding the token for VAULT_AUTH_METHOD=token",
  },
  {
    name: "VAULT_JWT_FILE",
    kind: file,
    default: "/var/run/secrets/kubernetes.io/serviceaccount/token",
    meaning: "file holding the JWT for kubernetes and jwt auth",
  },
  {
    name: "VAULT_APPROLE_SECRET_ID_FILE",
    kind: file,
    meaning: "file holding the AppRole secret_id",
  },
  // cloudtaser's own.
  {
    name: "CLOUDTASER_SECRET_PATHS",
    kind: { type: "list", empty: "refuse" },
    meaning: "KV paths, e.g. secret/data/app/db,kv/app",
  },
  {
    name: "CLOUDTASER_ENV_MAP",
    kind: str,
    meaning:
      "field=ENV pairs: commas within a path, ';' between paths, in SECRET_PATHS order",
  },
  {
    name: "CLOUDTASER_REQUIRE_MEMFD_SECRET",
    kind: bool,
    default: "false",
    meaning: "refuse to start without memfd_secret",
  },
  {
    name: "CLOUDTASER_REQUIRE_MLOCK",
    kind: bool,
    default: "false",
    meaning: "refuse to start when the region cannot be locked",
  },
  {
    name: "CLOUDTASER_DELIVERY",
    kind: { type: "enum", values: [...DELIVERIES, "auto"] },
    default: "env",
    meaning: "how the app receives secrets",
  },
  {
    name: "CLOUDTASER_CHILD_ENV_FALLBACK",
    kind: bool,
    default: "false",
    meaning:
      "non-glibc programs the app starts get secrets in envp, not an exec error",
  },
  {
    name: "CLOUDTASER_APP_CORE_DUMPS",
    kind: bool,
    default: "false",
    meaning:
      "keep the app debuggable: its RLIMIT_CORE (else 1/1: no core file or pipe core) and, in interposer and C SDK delivery, dumpable (else no process of its uid can ptrace it)",
  },
  {
    name: "CLOUDTASER_ALLOW_TRACER",
    kind: bool,
    default: "false",
    meaning:
      "go on when a tracer (strace, gdb) is attached to the wrapper, supervisor or app; it can read every secret: debugging only",
  },
  {
    name: "CLOUDTASER_MIN_SCORE",
    kind: { type: "int", min: 0, max: 200 },
    default: "0",
    meaning: "refuse to start below this protection score",
  },
  {
    name: "CLOUDTASER_ORIGINAL_CMD",
    kind: str,
    meaning: "the command to run when none follows --",
  },
  {
    name: "CLOUDTASER_ENV_PASSTHROUGH",
    kind: names,
    meaning: "configuration variables the app may still see",
  },
  {
    name: "CLOUDTASER_ALLOW_DANGEROUS_NAMES",
    kind: names,
    meaning:
      "secret names allowed although they control the app (LD_*, PATH, ...)",
  },
  {
    name: "CLOUDTASER_ALLOW_INSECURE_HTTP",
    kind: bool,
    default: "false",
    meaning:
      "allow an http:// VAULT_ADDR (insecure: all in clear; costs score)",
  },
  {
    name: "CLOUDTASER_LOG_LEVEL",
    kind: {
      type: "enum",
      values: ["debug", "info", "warning", "error"],
    },
    default: "info",
    meaning: "log level",
  },
  {
    name: "CLOUDTASER_ENFORCER_SOCKET",
    kind: file,
    default: "/run/cloudtaser/enforcer.sock",
    meaning: "unix socket of the node's enforcer",
  },
  // Refresh (docs/refresh.md): what happens after the app has started.
  {
    name: "CLOUDTASER_REFRESH_INTERVAL",
    kind: duration,
    meaning: "re-read KV secrets this often (unset: never; docs/refresh.md)",
  },
  {
    name: "CLOUDTASER_ON_CHANGE",
    kind: { type: "enum", values: ON_CHANGE_VALUES },
    default: "restart",
    meaning:
      "on a changed secret: restart the app, signal it after an in-place update (not with env delivery), or log only",
  },
  {
    name: "CLOUDTASER_STOP_SIGNAL",
    kind: { type: "enum", values: APP_SIGNALS },
    default: "SIGTERM",
    meaning: "signal that stops the app for a restart",
  },
  {
    name: "CLOUDTASER_KILL_TIMEOUT",
    kind: duration,
    default: "30s",
    meaning:
      "wait this long after the stop signal, then SIGKILL the app's group",
  },
  {
    name: "CLOUDTASER_REFRESH_TIMEOUT",
    kind: duration,
    default: "30s",
    meaning: "a refresh process running longer is killed and retried",
  },
  {
    name: "CLOUDTASER_REVOKE_ON_EXIT",
    kind: bool,
    default: "true",
    meaning:
      "revoke the token and every lease when the app exits (when the token is kept for refresh)",
  },
  {
    name: "CLOUDTASER_REVOKE_TIMEOUT",
    kind: duration,
    default: "5s",
    meaning: "the longest revocation at exit may hold up the pod's end",
  },
  {
    name: "CLOUDTASER_CHANGE_SPLAY",
    kind: { type: "duration", zero: true },
    default: "<10% of the interval, at most 60s>",
    meaning:
      "apply a change after a random delay up to this (0: at once); changes meanwhile are merged",
  },
] as const satisfies readonly Setting[];

/** A name in the table. */
export type SettingName = (typeof SETTINGS)[number]["name"];

type Row = (typeof SETTINGS)[number];

/** A name whose kind is `enum`. */
export type EnumName = Extract<Row, { kind: { type: "enum" } }>["name"];

/** The values an `enum` setting takes, e.g. `EnumValue<"VAULT_AUTH_METHOD">`. */
export type EnumValue<N extends EnumName> = Extract<
  Row,
  { name: N }
>["kind"] extends { values: readonly (infer V)[] } ? V : never;

/** A name whose kind is `list`. */
export type ListName = Extract<Row, { kind: { type: "list" } }>["name"];

/** Prefixes of configuration that never reaches the child by default. */
export const CONFIG_PREFIXES = ["CLOUDTASER_", "VAULT_", "BAO_"] as const;
