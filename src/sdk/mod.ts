/**
 * The cloudtaser SDK for Deno apps: read the secrets the wrapper delivers as
 * a region fd (`CLOUDTASER_DELIVERY=fd`), as bytes over the region.
 *
 * @example
 * ```ts
 * import { openSecrets } from "./src/sdk/mod.ts";
 * const secrets = openSecrets();
 * const token = secrets.get("API_TOKEN");
 * ```
 */
export * from "./open_secrets.ts";
export * from "../region/parse_region.ts";
