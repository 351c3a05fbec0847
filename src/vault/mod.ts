/** The Vault/OpenBao client. The wrapper calls {@link fetchSecrets}. */
export { fetchSecrets, startFetch } from "./fetch_secrets.ts";
export type {
  FetchOptions,
  FetchReport,
  PendingFetch,
} from "./fetch_secrets.ts";
export { VaultClient } from "./vault_client.ts";
export { warmTransport } from "./native_transport.ts";
export type { KvSecret, VaultClientOptions } from "./vault_client.ts";
export { isEnvName, planSecrets } from "./secret_plan.ts";
export type { FieldTarget, PathRead, SecretPlan } from "./secret_plan.ts";
export { VaultError } from "./errors.ts";
export type { VaultErrorKind } from "./errors.ts";
export type { AuthMethod } from "./login_request.ts";
