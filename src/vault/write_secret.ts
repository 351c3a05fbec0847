/**
 * Writes the values of one secret response into the secret region, each
 * straight from the body bytes into the record (no JS string), then zeroes
 * the body.
 *
 * Value rule (json_bytes/mod.ts): a JSON string is delivered decoded (UTF-8); any
 * other value (number, true, false, null, object, array) is delivered as its
 * JSON text exactly as the server sent it.
 */
import { dangerousNameProblem } from "../config/dangerous_names.ts";
import { RegionError } from "../region/errors.ts";
import type { SecretRegion } from "../region/secret_region.ts";
import { VaultError } from "./errors.ts";
import {
  decodeInto,
  type JsonSpan,
  maxDecodedLength,
  objectMembers,
} from "./json_bytes/mod.ts";
import { isEnvName } from "./secret_plan.ts";
import { missingKey } from "./status_errors.ts";
import type { KvSecret } from "./vault_client.ts";

/**
 * Writes the planned values of `secret` into `region` and zeroes its body.
 * `written` maps env names already written to their source; a name written
 * twice is a `duplicate` {@link VaultError} naming both sources. A key
 * imported under its own name that would control how the app runs
 * (dangerous_names.ts) is a `config` error unless `allowed` names it.
 * Returns the env names written, in order.
 */
export function writeSecret(
  secret: KvSecret,
  region: SecretRegion,
  written: Map<string, string>,
  allowed: ReadonlySet<string> = new Set(),
): string[] {
  const { read, body } = secret;
  try {
    const members = objectMembers(body, secret.data);
    const byKey = new Map(members);
    const out: {
      env: string;
      field: string;
      span: JsonSpan;
      source: string;
    }[] = [];
    if (read.importAll !== undefined) {
      for (const [field, span] of members) {
        if (!isEnvName(field)) {
          throw new VaultError(
            "config",
            `${read.path} key ${JSON.stringify(field)} is not a valid ` +
              "environment variable name; map it with CLOUDTASER_ENV_MAP " +
              "(field=NAME) instead of importing every key",
            { path: read.path, key: field },
          );
        }
        const source = `${read.path} key ${field}, imported by ` +
          read.importAll;
        const danger = dangerousNameProblem(field, source, allowed);
        if (danger) {
          throw new VaultError("config", danger, {
            path: read.path,
            key: field,
          });
        }
        out.push({ env: field, field, span, source: read.importAll });
      }
    }
    for (const t of read.targets) {
      const span = byKey.get(t.field);
      if (!span) {
        throw missingKey(read, t.field, t.source, members.map(([k]) => k));
      }
      out.push({ env: t.env, field: t.field, span, source: t.source });
    }
    // Every name is checked before the first byte is written.
    for (const o of out) {
      const before = written.get(o.env);
      if (before !== undefined) {
        throw new VaultError(
          "duplicate",
          `${o.env} is set twice: by ${before} and by ${o.source}`,
          { path: read.path, key: o.field },
        );
      }
      written.set(o.env, `${o.source}`);
    }
    for (const o of out) {
      writeValue(region, o.env, body, o.span, read.path, o.field);
    }
    return out.map((o) => o.env);
  } finally {
    body.fill(0);
  }
}

function writeValue(
  region: SecretRegion,
  env: string,
  body: Uint8Array,
  span: JsonSpan,
  path: string,
  field: string,
): void {
  const w = region.beginRecord(env, maxDecodedLength(span));
  let n: number;
  try {
    n = decodeInto(body, span, w.view);
  } catch (e) {
    w.view.fill(0);
    w.commit(0); // release the reservation; the start fails anyway
    throw e;
  }
  try {
    w.commit(n);
  } catch (e) {
    if (!(e instanceof RegionError)) throw e;
    // commit() zeroed the value; the only RegionError it raises is NUL.
    throw new VaultError(
      "invalid_value",
      `${path} key ${JSON.stringify(field)} (for ${env}) contains a NUL ` +
        "byte, which environment delivery cannot carry (an environment " +
        "variable ends at the first NUL); remove it from the secret or " +
        "encode the value (e.g. base64)",
      { path, key: field },
    );
  }
}
