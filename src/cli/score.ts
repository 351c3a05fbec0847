/**
 * `score [--json]`: the protection score this node gives this configuration,
 * measured on a probe region without fetching anything.
 */
import { refreshPolicy, residentNeeded } from "../refresh/policy.ts";
import type { Config } from "../config/parse.ts";
import { checkEnviron, readOwnEnviron } from "../protect/environ_check.ts";
import { measureFacts } from "../score/facts.ts";
import { formatScore, scoreFacts } from "../score/score.ts";
import { planSecrets } from "../vault/mod.ts";
import {
  enforcerState,
  hardenFromConfig,
  interposerPath,
  protectedRegion,
} from "./start.ts";

const CREDENTIALS = ["VAULT_TOKEN", "BAO_TOKEN"];

/** Prints the score; returns the exit code (0 even when low). */
export async function scoreCommand(
  config: Config,
  json: boolean,
): Promise<number> {
  const enforcer = await enforcerState(config); // before any region, as run
  hardenFromConfig(config);
  const region = protectedRegion(config);
  try {
    const environ = readOwnEnviron();
    const none = new Uint8Array();
    // A token in the wrapper's own environ is exposed for its whole life.
    const tokenInEnviron = !checkEnviron(
      environ,
      CREDENTIALS.map((name) => [name, none]),
    ).clean;
    // Without fetching, the secrets' names are known from the map: none may
    // already sit in the environ (set in the pod spec). A vault: reference
    // under such a name is expected and is not a secret.
    const planned = [...planSecrets(config).envSources]
      .filter(([, source]) => !source.startsWith("env "))
      .map(([name]) => [name, none] as [string, Uint8Array]);
    const delivery = config.enum("CLOUDTASER_DELIVERY");
    let interposer = false;
    if (delivery === "interposer") {
      interposer = await Deno.stat(interposerPath()).then(
        () => true,
        () => false,
      );
    }
    const score = scoreFacts(measureFacts({
      region,
      tokenProtected: !tokenInEnviron && region.backing === "memfd_secret",
      // A login token is revoked before the app starts, or at exit when
      // refresh keeps it (unless CLOUDTASER_REVOKE_ON_EXIT=false); a
      // supplied one never.
      tokenRevoked: config.enum("VAULT_AUTH_METHOD") !== "token" &&
        (!residentNeeded(refreshPolicy(config), 0) ||
          config.bool("CLOUDTASER_REVOKE_ON_EXIT")),
      tokenRevokedAtExit: residentNeeded(refreshPolicy(config), 0),
      environClean: checkEnviron(environ, planned).clean,
      interposer,
      enforcer,
      skipVerify: config.bool("VAULT_SKIP_VERIFY"),
      plainHttp: config.string("VAULT_ADDR")!.startsWith("http:"),
    }));
    console.log(json ? JSON.stringify(score) : formatScore(score));
    return 0;
  } finally {
    region.wipe();
  }
}
