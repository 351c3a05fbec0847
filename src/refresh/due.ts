/**
 * `refresh --op due`: the work the supervisor's timer found due
 * (docs/refresh.md "The cycle"): renew the token or log in again, renew
 * leases or read their paths again, re-read rotated KV paths, and build
 * complete new regions for what changed.
 */
import type { Config } from "../config/parse.ts";
import { configRegionFlags } from "../delivery/region_flags.ts";
import { SecretRegion } from "../region/secret_region.ts";
import type { Secrets } from "../sdk/open_secrets.ts";
import { planSecrets } from "../vault/secret_plan.ts";
import { TokenStore } from "../vault/token_store.ts";
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
  /** The token region changed (a fresh login, a new lease id). */
  newToken?: TokenStore;
  /** Some value changed: the complete new app region. */
  newApp?: SecretRegion;
  applyInMs: number;
  dueMs: number;
  state: RefreshState;
  /** What happened (failures, changed paths), never a value. */
  message: string;
}

/** A granted lease this much shorter than asked means its max TTL is near. */
const CAPPED_MARGIN_MS = 1000;

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
  let loggedIn = false;
  try {
    const tv = token.get("VAULT_TOKEN");
    if (!tv) throw new Error("the token region holds no VAULT_TOKEN record");
    client.useToken(tv);
    const again = new Set<number>();
    if (s.renewAt > 0 && now >= s.renewAt) {
      loggedIn = await renewOrLogin(client, s, now, notes);
      // A lease lives no longer than the token that made it: under a new
      // token every dynamic secret is read again.
      if (loggedIn) {
        s.reads.forEach((r, i) => r.lease && again.add(i));
      }
    }
    if (!loggedIn) await renewLeases(client, s, token, now, again, notes);
    const kvDue = s.kvAt > 0 && now >= s.kvAt;
    if (kvDue) await changedKv(config, client, s, again);
    if (again.size > 0) {
      const built = await rebuild(config, client, s, token, app, again, {
        loggedIn,
      });
      newToken = built.token;
      newApp = built.app;
      notes.push(...built.notes);
    }
    if (loggedIn && !newToken) newToken = client.releaseToken();
    if (kvDue) s.kvAt = now + s.intervalMs;
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
    // A failed report keeps the old token (the supervisor ignores a token
    // change in it): a fresh login made by this refresh would be a valid
    // token nobody holds, alive until its TTL. Revoke it, with the leases
    // read under it.
    const dropped = loggedIn ? await revokeFreshLogin(client, newToken) : "";
    newToken?.wipe();
    newApp?.wipe();
    s.backoffMs = nextBackoff(s.backoffMs);
    const wait = jitter(s.backoffMs);
    const deadline = signal?.aborted
      ? " (the refresh's deadline, 80 % of CLOUDTASER_REFRESH_TIMEOUT, passed)"
      : "";
    return {
      ok: false,
      applyInMs: 0,
      dueMs: wait,
      state: s,
      message: `${(e as Error).message}${deadline}${dropped}; next attempt in ${
        Math.round(wait / 100) / 10
      } s`,
    };
  } finally {
    client.close();
  }
}

/**
 * Revokes the token of this refresh's login (still the client's, or
 * released into `released`); what happened, for the failure's message.
 */
async function revokeFreshLogin(
  client: VaultClient,
  released: TokenStore | undefined,
): Promise<string> {
  const v = released?.region?.value("VAULT_TOKEN");
  if (v) client.useToken(v);
  const r = await client.revokeToken();
  return r.revoked
    ? "; the new login token was revoked"
    : `; the new login token could not be revoked (${r.why}), it ends at its TTL`;
}

/**
 * Renews the token, or logs in again when renewal is refused, the token is
 * not renewable, or the last renewal came back shorter than the login's TTL
 * (its max TTL is near: the next one would pass it). True: a new token,
 * now the client's.
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
 * Renews each lease that is due for its original duration; one that is
 * refused, not renewable, or granted less (its max TTL is near) is read
 * again instead (`again`).
 */
async function renewLeases(
  client: VaultClient,
  s: RefreshState,
  token: Secrets,
  now: number,
  again: Set<number>,
  notes: string[],
): Promise<void> {
  await Promise.all(s.reads.map(async (r, i) => {
    const l = r.lease;
    if (!l || l.at === 0 || now < l.at) return;
    const id = token.get(`LEASE_${i}`);
    if (!id || !l.r) {
      again.add(i);
      return;
    }
    const got = await client.renewLease(id, l.d);
    if (got.renewed && got.durationMs >= l.d - CAPPED_MARGIN_MS) {
      l.at = renewAt(now, got.durationMs);
      notes.push(`lease of ${r.p} renewed for ${got.durationMs / 1000} s`);
      return;
    }
    notes.push(
      got.renewed
        ? `lease of ${r.p} near its max TTL: new credentials`
        : `${got.why}: new credentials for ${r.p}`,
    );
    again.add(i);
  }));
}

/**
 * Adds the KV paths to read again: KV v2 whose `current_version` moved
 * (metadata only, no secret crosses the wire), every KV v1 path (compared
 * byte for byte later); never a pinned version or a dynamic secret.
 */
async function changedKv(
  config: Config,
  client: VaultClient,
  s: RefreshState,
  again: Set<number>,
): Promise<void> {
  const plan = planSecrets(config);
  const versions = await Promise.all(plan.reads.map((r, i) => {
    const st = s.reads[i];
    return st && !st.pin && !st.lease && st.kv === 2
      ? client.currentVersion(r)
      : Promise.resolve(undefined);
  }));
  s.reads.forEach((st, i) => {
    if (st.pin || st.lease) return;
    if (st.kv === 1 || versions[i] !== st.ver) again.add(i);
  });
}

/**
 * Reads the paths in `again` and builds the complete new app region (the
 * other values copied from the app's) and, when a lease or the token
 * changed, the complete new token region. Undefined parts did not change.
 */
async function rebuild(
  config: Config,
  client: VaultClient,
  s: RefreshState,
  token: Secrets,
  app: Secrets,
  again: Set<number>,
  how: { loggedIn: boolean },
): Promise<{ token?: TokenStore; app?: SecretRegion; notes: string[] }> {
  const plan = planSecrets(config);
  if (plan.reads.length !== s.reads.length) {
    throw new Error("the configuration's paths differ from the start's");
  }
  const settled = await Promise.allSettled(
    plan.reads.map((r, i) => again.has(i) ? client.readSecret(r) : undefined),
  );
  const zeroAll = () => {
    for (const x of settled) {
      if (x.status === "fulfilled") x.value?.body.fill(0);
    }
  };
  const failed = settled.find((x) => x.status === "rejected");
  if (failed) {
    zeroAll();
    throw (failed as PromiseRejectedResult).reason;
  }
  const got = settled.map((x) =>
    (x as PromiseFulfilledResult<KvSecret | undefined>).value
  );
  const now = Date.now();
  const leaseChanged = got.some((g) => g?.lease);
  let store: TokenStore | undefined;
  const region = SecretRegion.create({
    requireMemfdSecret: config.bool("CLOUDTASER_REQUIRE_MEMFD_SECRET"),
    requireMlock: config.bool("CLOUDTASER_REQUIRE_MLOCK"),
  });
  try {
    if (how.loggedIn || leaseChanged) {
      if (how.loggedIn) store = client.releaseToken();
      else {
        store = new TokenStore();
        store.setFromBytes(token.get("VAULT_TOKEN")!, false);
      }
      // Lease ids in read order: the new one where read again.
      s.reads.forEach((r, i) => {
        const lease = got[i]?.lease;
        if (lease) store!.appendFromJson(`LEASE_${i}`, got[i]!.body, lease.id);
        else if (r.lease && token.get(`LEASE_${i}`)) {
          store!.appendRecord(`LEASE_${i}`, token.get(`LEASE_${i}`)!);
        }
      });
    }
    region.setFlags(configRegionFlags(config));
    const written = new Map<string, string>();
    const next = structuredClone(s.reads);
    // A mapped path's names are its targets; an imported one's are kept.
    const oldKeys = plan.reads.map((r, i) =>
      s.reads[i].keys ?? r.targets.map((t) => t.env)
    );
    const newKeys = [...oldKeys];
    for (let i = 0; i < plan.reads.length; i++) {
      const g = got[i];
      if (g) {
        got[i] = undefined;
        next[i].ver = g.version;
        if (g.lease) {
          next[i].lease = {
            d: g.lease.durationMs,
            r: g.lease.renewable,
            at: renewAt(now, g.lease.durationMs),
          };
        }
        const wrote = writeSecret(g, region, written, plan.allowedNames);
        if (plan.reads[i].importAll !== undefined) next[i].keys = wrote;
        newKeys[i] = wrote;
      } else {
        for (const k of oldKeys[i]) {
          const v = app.get(k);
          if (!v) throw new Error(`the app region holds no ${k} record`);
          written.set(k, s.reads[i].p);
          region.append(k, v);
        }
      }
    }
    const changed = plan.reads.filter((_, i) =>
      again.has(i) && !sameValues(newKeys[i], oldKeys[i], region, app)
    ).map((r) => r.path);
    s.reads = next;
    const notes = changed.length ? [`changed: ${changed.join(", ")}`] : [];
    if (changed.length === 0) region.wipe();
    return { token: store, app: changed.length ? region : undefined, notes };
  } catch (e) {
    for (const g of got) g?.body.fill(0);
    // A fresh login goes back to the client, which revokes it (runDue).
    const fresh = how.loggedIn ? store?.region?.value("VAULT_TOKEN") : null;
    if (fresh) client.useToken(fresh);
    store?.wipe();
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
