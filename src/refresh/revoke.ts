/**
 * `refresh --op revoke`: at the app's exit, revoke every lease, then the
 * token (docs/refresh.md "Revocation at exit"), within the deadline.
 */
import type { Config } from "../config/parse.ts";
import { VaultClient } from "../vault/vault_client.ts";

/** What revocation did; `message` names what failed, never a value. */
export interface RevokeOutcome {
  ok: boolean;
  tokenRevoked: boolean;
  leasesRevoked: number;
  message: string;
}

/** The records of a token region: a mapped copy or the wrapper's own. */
export interface TokenRecords {
  get(key: string): Uint8Array | undefined;
  keys(): string[];
}

/** Revokes the leases then the token; never throws. */
export async function runRevoke(
  config: Config,
  token: TokenRecords,
  signal?: AbortSignal,
): Promise<RevokeOutcome> {
  const client = VaultClient.create(config, { signal });
  const problems: string[] = [];
  let leasesRevoked = 0;
  try {
    const tv = token.get("VAULT_TOKEN");
    if (!tv) {
      return {
        ok: false,
        tokenRevoked: false,
        leasesRevoked,
        message: "the token region holds no VAULT_TOKEN record",
      };
    }
    client.useToken(tv);
    // Leases first: revoking the token would orphan nothing (Vault revokes
    // a token's leases with it), but a lease made under an older token is
    // not this token's child.
    const leases = token.keys().filter((k) => k.startsWith("LEASE_"));
    const results = await Promise.all(
      leases.map((k) => client.revokeLease(token.get(k)!)),
    );
    for (const r of results) {
      if (r.revoked) leasesRevoked++;
      else problems.push(r.why!);
    }
    const t = await client.revokeToken();
    if (!t.revoked) problems.push(t.why!);
    return {
      ok: problems.length === 0,
      tokenRevoked: t.revoked,
      leasesRevoked,
      message: problems.join("; "),
    };
  } finally {
    client.close();
  }
}
