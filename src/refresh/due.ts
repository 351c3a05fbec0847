/**
 * `refresh --op due`: the work the supervisor's timer found due
 * (docs/refresh.md "The cycle"): renew the token or log in again, re-read
 * rotated KV paths, and build complete new regions for what changed.
 */
import type { Config } from "../config/parse.ts";
import { regionFlags } from "../delivery/region_flags.ts";
import { SecretRegion } from "../region/secret_region.ts";
import type { Secrets } from "../sdk/open_secrets.ts";
import { planSecrets } from "../vault/secret_plan.ts";
import type { TokenStore } from "../vault/token_store.ts";
import { type KvSecret, VaultClient } from "../vault/vault_client.ts";
import { writeSecret } from "../vault/write_secret.ts";
import { refreshPolicy } from "./policy.ts";
import {
  dueMs,
  jitter,
  nextBackoff,
  type RefreshState,
  renewAt,
} from "./state.ts";

/** What a due refresh did; the regions are the caller's to write and wipe. */
export interface DueOutcome {
  ok: boolean;
  /** A fresh login replaced the token: its store holds the new region. */
  newToken?: TokenStore;
  /** Some value changed: the complete new app region. */
  newApp?: SecretRegion;
  applyInMs: number;
  dueMs: number;
  state: RefreshState;
  /** What happened (failures, changed paths), never a value. */
  message: string;
}

/**
 * Runs the due steps against the server. Never throws: a failure is an
 * outcome with the back-off in `dueMs` and `state`.
 */
export async function runDue(
  config: Config,
  state: RefreshState,
  token: Secrets,
  app: Secrets,
  signal?: AbortSignal,
): Promise<DueOutcome> {
  const now = Date.now();
  const s: RefreshState = structuredClone(state);
  const client = VaultClient.create(config, { signal });
  let newToken: TokenStore | undefined;
  let newApp: SecretRegion | undefined;
  const notes: string[] = [];
  try {
    const tv = token.get("VAULT_TOKEN");
    if (!tv) throw new Error("the token region holds no VAULT_TOKEN record");
    client.useToken(tv);
    if (s.renewAt > 0 && now >= s.renewAt) {
      if (await renewOrLogin(client, s, now, notes)) {
        newToken = client.releaseToken();
        // The lease ids stay with the token region.
        for (const k of token.keys()) {
          if (k.startsWith("LEASE_")) newToken.appendRecord(k, token.get(k)!);
        }
        client.useToken(newToken.region!.value("VAULT_TOKEN")!);
      }
    }
    if (s.kvAt > 0 && now >= s.kvAt) {
      newApp = await rereadKv(config, client, s, app, notes);
      s.kvAt = now + s.intervalMs;
    }
    s.backoffMs = 0;
    const splay = refreshPolicy(config).splayMs;
    return {
      ok: true,
      newToken,
      newApp,
      applyInMs: newApp ? Math.floor(Math.random() * (splay + 1)) : 0,
      dueMs: dueMs(s, Date.now()),
      state: s,
      message: notes.join("; "),
    };
  } catch (e) {
    newToken?.wipe();
    newApp?.wipe();
    s.backoffMs = nextBackoff(s.backoffMs);
    const wait = jitter(s.backoffMs);
    return {
      ok: false,
      applyInMs: 0,
      dueMs: wait,
      state: s,
      message: `${(e as Error).message}; next attempt in ${
        Math.round(wait / 100) / 10
      } s`,
    };
  } finally {
    client.close();
  }
}

/**
 * Renews the token, or logs in again when renewal is refused, the token is
 * not renewable, or the last renewal came back shorter than the login's TTL
 * (its max TTL is near: the next one would pass it). True: a new token.
 */
async function renewOrLogin(
  client: VaultClient,
  s: RefreshState,
  now: number,
  notes: string[],
): Promise<boolean> {
  if (!s.relogin) {
    const r = await client.renewToken();
    if (r.renewed) {
      s.renewAt = renewAt(now, r.lease.ttlMs);
      s.relogin = !r.lease.renewable || r.lease.ttlMs < s.loginTtlMs;
      notes.push(`token renewed for ${r.lease.ttlMs / 1000} s`);
      return false;
    }
    notes.push(`${r.why}: logging in again`);
  }
  await client.login();
  const lease = client.tokenLease;
  s.loginTtlMs = lease?.ttlMs ?? 0;
  s.relogin = lease !== undefined && !lease.renewable;
  s.renewAt = renewAt(now, s.loginTtlMs);
  notes.push("logged in again");
  return true;
}

/**
 * Re-reads the KV paths whose version moved (KV v2: metadata first, one
 * small request each) and every KV v1 path, and builds the complete new
 * app region when a value differs. Undefined: nothing changed.
 */
async function rereadKv(
  config: Config,
  client: VaultClient,
  s: RefreshState,
  app: Secrets,
  notes: string[],
): Promise<SecretRegion | undefined> {
  const plan = planSecrets(config);
  if (plan.reads.length !== s.reads.length) {
    throw new Error("the configuration's paths differ from the start's");
  }
  const versions = await Promise.all(plan.reads.map((r, i) => {
    const st = s.reads[i];
    return st.pin || st.kv !== 2
      ? Promise.resolve(undefined)
      : client.currentVersion(r);
  }));
  const again = plan.reads.map((_, i) =>
    !s.reads[i].pin && (s.reads[i].kv === 1 || versions[i] !== s.reads[i].ver)
  );
  if (!again.some((x) => x)) return undefined;
  const settled = await Promise.allSettled(
    plan.reads.map((r, i) => again[i] ? client.readSecret(r) : undefined),
  );
  const region = SecretRegion.create({
    requireMemfdSecret: config.bool("CLOUDTASER_REQUIRE_MEMFD_SECRET"),
    requireMlock: config.bool("CLOUDTASER_REQUIRE_MLOCK"),
  });
  try {
    const failed = settled.find((x) => x.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    region.setFlags(regionFlags({
      childEnvFallback: config.bool("CLOUDTASER_CHILD_ENV_FALLBACK"),
      appCoreDumps: config.bool("CLOUDTASER_APP_CORE_DUMPS"),
    }));
    const written = new Map<string, string>();
    const next = structuredClone(s.reads);
    for (let i = 0; i < plan.reads.length; i++) {
      const got = (settled[i] as PromiseFulfilledResult<KvSecret | undefined>)
        .value;
      if (got) {
        settled[i] = { status: "fulfilled", value: undefined };
        next[i].keys = writeSecret(got, region, written, plan.allowedNames);
        next[i].ver = got.version;
      } else {
        for (const k of s.reads[i].keys) {
          const v = app.get(k);
          if (!v) throw new Error(`the app region holds no ${k} record`);
          written.set(k, s.reads[i].p);
          region.append(k, v);
        }
      }
    }
    const changed = plan.reads.filter((_, i) =>
      again[i] && !sameValues(next[i].keys, s.reads[i].keys, region, app)
    ).map((r) => r.path);
    s.reads = next;
    if (changed.length === 0) {
      region.wipe();
      return undefined;
    }
    notes.push(`changed: ${changed.join(", ")}`);
    return region;
  } catch (e) {
    for (const x of settled) {
      if (x.status === "fulfilled") x.value?.body.fill(0);
    }
    region.wipe();
    throw e;
  }
}

/** Same keys in the same order, each value byte for byte the same. */
function sameValues(
  keys: string[],
  oldKeys: string[],
  region: SecretRegion,
  app: Secrets,
): boolean {
  if (keys.length !== oldKeys.length) return false;
  return keys.every((k, i) => {
    if (k !== oldKeys[i]) return false;
    const a = region.value(k)!;
    const b = app.get(k);
    if (!b || a.length !== b.length) return false;
    let d = 0;
    for (let j = 0; j < a.length; j++) d |= a[j] ^ b[j];
    return d === 0;
  });
}
