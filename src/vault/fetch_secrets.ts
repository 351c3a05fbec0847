/**
 * The wrapper's entry point: log in, read every planned path, write the
 * values into the secret region, close.
 */
import type { Config } from "../config/parse.ts";
import type { SecretRegion } from "../region/secret_region.ts";
import { log } from "../log.ts";
import { planSecrets } from "./secret_plan.ts";
import type { TokenStore } from "./token_store.ts";
import {
  type TokenLease,
  type TokenRevocation,
  VaultClient,
} from "./vault_client.ts";
import { writeSecret } from "./write_secret.ts";

/** Input of {@link fetchSecrets}. */
export interface FetchOptions {
  /**
   * The parsed configuration (`parseConfig(env)`); its `env` is scanned for
   * `vault:` references.
   */
  config: Config;
  /** Where the values go. */
  region: SecretRegion;
  /** Aborts the whole fetch (VAULT_CLIENT_TIMEOUT applies regardless). */
  signal?: AbortSignal;
  /**
   * Whether to keep the login token for the resident refresh, given the
   * number of leases the reads made (docs/refresh.md): a kept token is not
   * revoked but handed back in {@link FetchReport.token}, with each lease
   * id beside it as `LEASE_<read index>`.
   */
  keepToken?: (leases: number) => boolean;
}

/** One planned read as it went (no value): what a refresh compares. */
export interface ReadOutcome {
  path: string;
  /** KV version of the mount (1 for a dynamic secret). */
  kv: 1 | 2;
  /** A dynamic secret: its lease (the id is `LEASE_<index>`). */
  lease?: { durationMs: number; renewable: boolean };
  /** KV v2: the version read; pinned reads keep theirs. */
  version?: number;
  pinned: boolean;
  /** Env names this read wrote, in order. */
  keys: string[];
  /** Every key of the path was imported (the names come from the server). */
  importAll: boolean;
}

/** What {@link fetchSecrets} did; no values. */
export interface FetchReport {
  /** Env names written into the region, in write order. */
  keys: string[];
  /** Distinct paths read (with `?version=N` when pinned). */
  paths: string[];
  /** HTTP requests sent, retries included. */
  requests: number;
  /** VAULT_SKIP_VERIFY was on: the score must subtract. */
  skipVerify: boolean;
  /** VAULT_ADDR was plain http://: the score must subtract. */
  plainHttp: boolean;
  /** The token lived only in a memfd_secret region (score: token_protected). */
  tokenProtected: boolean;
  /** The login token was revoked once the reads were in (score: token_revoked). */
  tokenRevoked: boolean;
  authMethod: string;
  /** Each planned read, in plan order. */
  reads: ReadOutcome[];
  /**
   * With `keepToken`: the token's store (its region is the token region;
   * the caller wipes it) and its lifetime.
   */
  token?: TokenStore;
  tokenLease?: TokenLease;
  /** Wall time of login + reads + writes, in milliseconds. */
  elapsedMs: number;
}

/**
 * Fetches every configured secret into `region`, the login token revoked
 * (or kept, with `keepToken`) and the client closed. Fails closed: any
 * missing path or key, refusal or bad value throws a {@link VaultError}
 * (values already written stay in the region, which the caller wipes).
 *
 * @example
 * ```ts
 * const config = parseConfig(Deno.env.toObject());
 * const region = SecretRegion.create();
 * const report = await fetchSecrets({ config, region });
 * console.error(`${report.keys.length} secrets in ${report.requests} requests`);
 * ```
 */
export async function fetchSecrets(opts: FetchOptions): Promise<FetchReport> {
  return await (await startFetch(opts)).finish();
}

/**
 * The values are in the region; the login token's revocation may still be
 * on the wire (the token lives only in its own region meanwhile).
 */
export interface PendingFetch {
  /** Env names written into the region, in write order. */
  keys: string[];
  /**
   * Waits for the revocation, closes the client and gives the report.
   * Whoever got a PendingFetch calls it, on every path (a failure too: it
   * is what revokes); later calls give the same promise.
   */
  finish(): Promise<FetchReport>;
}

/**
 * {@link fetchSecrets} up to the values in the region, logging "secrets
 * fetched": the start prepares the app's environment while the revocation
 * is answered (src/cli/start.ts). A failure revokes and closes before it
 * throws, as fetchSecrets does.
 */
export async function startFetch(opts: FetchOptions): Promise<PendingFetch> {
  const t0 = performance.now();
  const plan = planSecrets(opts.config);
  const client = VaultClient.create(opts.config, { signal: opts.signal });
  let revoking: Promise<TokenRevocation> | undefined;
  let finishing: Promise<FetchReport> | undefined;
  try {
    await client.login();
    // Measured now: revocation wipes the token.
    const tokenProtected = client.tokenProtected;
    // Every read handed to the transport at once (it sends them one after
    // another over its one connection); each body is held
    // only until it is written (in plan order, so the region is
    // deterministic) and zeroed.
    const settled = await Promise.allSettled(
      plan.reads.map((r) => client.readSecret(r)),
    );
    // The reads were the last requests that must succeed: the client key
    // leaves memory now, before the values are reported (the revocation
    // goes out on the connection up).
    client.forgetClientKey();
    // The token has done its work: revoke it while the values are written,
    // so a copy left anywhere in the process opens nothing.
    const leases = settled.filter((s) =>
      s.status === "fulfilled" && s.value.lease
    ).length;
    // Kept for the refresh: a failure below still revokes it (finally).
    const keep = opts.keepToken?.(leases) ?? false;
    if (keep) {
      // Every lease id beside the token before anything can fail: a failed
      // start then revokes each lease with the token (finally).
      settled.forEach((s, i) => {
        if (s.status === "fulfilled" && s.value.lease) {
          client.keepLease(`LEASE_${i}`, s.value.body, s.value.lease.id);
        }
      });
    } else revoking = client.revokeToken();
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) {
      for (const s of settled) {
        if (s.status === "fulfilled") s.value.body.fill(0);
      }
      throw (failed as PromiseRejectedResult).reason;
    }
    const written = new Map<string, string>();
    const keys: string[] = [];
    const reads: ReadOutcome[] = [];
    for (let i = 0; i < settled.length; i++) {
      const s = settled[i] as PromiseFulfilledResult<
        Awaited<ReturnType<VaultClient["readSecret"]>>
      >;
      try {
        const { kvVersion, version, read, lease } = s.value;
        const wrote = writeSecret(
          s.value,
          opts.region,
          written,
          plan.allowedNames,
        );
        keys.push(...wrote);
        reads.push({
          path: read.path,
          kv: kvVersion,
          version,
          pinned: read.version !== undefined,
          keys: wrote,
          importAll: read.importAll !== undefined,
          ...(lease
            ? {
              lease: {
                durationMs: lease.durationMs,
                renewable: lease.renewable,
              },
            }
            : {}),
        });
      } catch (e) {
        for (const rest of settled.slice(i + 1)) {
          if (rest.status === "fulfilled") {
            rest.value.body.fill(0);
          }
        }
        throw e;
      }
    }
    const paths = plan.reads.map((r) =>
      r.version === undefined ? r.path : `${r.path}?version=${r.version}`
    );
    const elapsedMs = Math.round(performance.now() - t0);
    log("vault").info("secrets fetched", {
      secrets: keys.length,
      paths: paths.length,
      requests: client.requests,
      elapsedMs,
    });
    const finish = async (): Promise<FetchReport> => {
      try {
        const revoked = await revoking ?? { revoked: false, why: "kept" };
        if (!revoked.revoked && !keep) {
          log("vault").warn("the token stays valid until its TTL: {why}", {
            why: revoked.why,
          });
        }
        const report: FetchReport = {
          keys,
          paths,
          requests: client.requests,
          skipVerify: client.skipVerify,
          plainHttp: client.plainHttp,
          tokenProtected,
          tokenRevoked: revoked.revoked,
          authMethod: client.authMethod,
          reads,
          elapsedMs,
        };
        if (keep) {
          report.tokenLease = client.tokenLease;
          report.token = client.releaseToken();
        }
        return report;
      } finally {
        client.close();
      }
    };
    return {
      keys,
      finish: () => finishing ??= finish(),
    };
  } catch (e) {
    // On a failure too: a token left valid is a credential left behind.
    await (revoking ?? client.revokeLeasesAndToken());
    client.close();
    throw e;
  }
}
