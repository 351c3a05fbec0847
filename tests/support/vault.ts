/**
 * Shared set-up for the Vault client tests: one OpenBao per test file,
 * started once, stopped by the last test; a log capture so every file can
 * prove that no secret reached the logs.
 */
import { randomMarker } from "./markers.ts";
import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { parseConfig } from "../../src/config/parse.ts";
import { SecretRegion } from "../../src/region/secret_region.ts";
import { jsonLine } from "../../src/log.ts";
import { type FetchReport, fetchSecrets } from "../../src/vault/mod.ts";

const dec = new TextDecoder();

/** A unique test secret: `CTV-<tag>-<24 hex>`. */
export function secret(tag: string): string {
  return randomMarker("CTV", tag, 12);
}

/** Every log line, captured at debug level instead of going to stderr. */
export const logLines: string[] = [];
configureSync({
  reset: true,
  sinks: { mem: (r: LogRecord) => logLines.push(jsonLine(r)) },
  loggers: [
    { category: ["cloudtaser"], lowestLevel: "debug", sinks: ["mem"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["mem"] },
  ],
});
globalThis.addEventListener("unload", () => resetSync());

export { put, sharedServer } from "./openbao/mod.ts";

/** The result of one fetch into a fresh region: values decoded for asserts. */
export interface Fetched {
  report: FetchReport;
  values: Record<string, string>;
  bytes: Record<string, Uint8Array>;
}

/** Runs fetchSecrets with `env` into a fresh region and wipes it. */
export async function fetchInto(env: Record<string, string>): Promise<Fetched> {
  const region = SecretRegion.create();
  try {
    const report = await fetchSecrets({ config: parseConfig(env), region });
    const values: Record<string, string> = {};
    const bytes: Record<string, Uint8Array> = {};
    for (const k of region.keys()) {
      bytes[k] = region.value(k)!.slice();
      values[k] = dec.decode(bytes[k]);
    }
    console.log(
      `  fetch: ${report.requests} requests, ${report.keys.length} keys, ` +
        `${report.elapsedMs} ms (${report.authMethod})`,
    );
    return { report, values, bytes };
  } finally {
    region.wipe();
  }
}

/** Runs fetchSecrets expecting a failure; returns the error. */
export async function fetchError(env: Record<string, string>): Promise<Error> {
  const region = SecretRegion.create();
  try {
    await fetchSecrets({ config: parseConfig(env), region });
  } catch (e) {
    return e as Error;
  } finally {
    region.wipe();
  }
  throw new assert.AssertionError({ message: "fetchSecrets succeeded" });
}

/** Fails when any captured log line or message holds one of `secrets`. */
export function assertNoSecretIn(texts: string[], secrets: string[]): void {
  for (const t of texts) {
    for (const s of secrets) {
      assert.ok(
        !t.includes(s),
        `a secret leaked into output: ${t.slice(0, 200)}`,
      );
    }
  }
}
