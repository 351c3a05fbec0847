/**
 * The start-up sequence shared by `run` and `check` (DESIGN.md's order):
 * harden, register with the enforcer, allocate the region, fetch, choose the
 * delivery, build the child's environment, verify environ, measure the score.
 * Before the app exists every doubt stops the start (fail closed).
 */
import { nativePath } from "../../ffi/mod.ts";
import type { Config } from "../config/parse.ts";
import {
  chooseDelivery,
  describeFallback,
  fallbackWarning,
  inspectTarget,
} from "../delivery/mod.ts";
import { configRegionFlags } from "../delivery/region_flags.ts";
import { registerWithEnforcer } from "../enforcer/client.ts";
import { log } from "../log.ts";
import { hardenProcess, ProtectionMissingError } from "../protect/mod.ts";
import { SecretRegion } from "../region/mod.ts";
import type { Delivery } from "../../ffi/constants.ts";
import { buildChildEnv } from "../delivery/child_env.ts";
import {
  checkEnviron,
  environProblem,
  readOwnEnviron,
} from "../protect/environ_check.ts";
import {
  checkExecSize,
  execArgLimit,
  stackLimit,
} from "../delivery/exec_limits.ts";
import { type EnforcerState, measureFacts, nodeFacts } from "../score/facts.ts";
import { missing, type Score, scoreFacts } from "../score/score.ts";
import {
  type FetchReport,
  type PendingFetch,
  startFetch,
  warmTransport,
} from "../vault/mod.ts";
import { isCompiled } from "./install.ts";
import { resolveApp } from "./resolve_app.ts";
import {
  checkOnChange,
  type RefreshPolicy,
  refreshPolicy,
  residentNeeded,
} from "../refresh/policy.ts";
import { type RefreshState, stateWithinLimit } from "../refresh/state.ts";
import { initialState, revokeKept } from "../refresh/start_side.ts";
import type { TokenStore } from "../vault/token_store.ts";

/**
 * The start cannot go on (the wrapper's own environ holds a secret, the
 * interposer library is missing): the message names what failed. A missing
 * protection the configuration demands is a ProtectionMissingError instead.
 */
export class StartError extends Error {
  /**
   * Makes the error.
   *
   * @param message names what failed, never a value
   */
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

/** Everything the hand-over (or `check`) needs. */
export interface Prepared {
  config: Config;
  region: SecretRegion;
  fetch: FetchReport;
  delivery: Delivery;
  childEnv: string[];
  score: Score;
  /**
   * Present when something resident needs the token (docs/refresh.md): the
   * token region, the first state and the policy for the hand-over. Whoever
   * stops the start calls {@link abandon}.
   */
  refresh?: { token: TokenStore; state: RefreshState; policy: RefreshPolicy };
}

/**
 * Undoes a prepared start that will not run: wipes the region and revokes
 * a token kept for refresh.
 */
export async function abandon(p: Prepared): Promise<void> {
  p.region.wipe();
  if (p.refresh) await revokeKept(p.config, p.refresh.token);
}

/** Where the interposer library is: beside a compiled binary, else build/. */
export function interposerPath(): string {
  const name = "libcloudtaser_interposer.so";
  if (isCompiled()) {
    return Deno.execPath().replace(/[^/]*$/, name);
  }
  return nativePath(name);
}

/**
 * Runs the start-up sequence for `argv` (the app's command; used to choose
 * the delivery). `signal` aborts the fetch (a SIGTERM during start-up).
 * The command is resolved and checked first, before anything secret exists
 * (`bare`: its first word came without `--`, see resolveApp).
 */
export async function prepare(
  config: Config,
  argv: string[],
  signal?: AbortSignal,
  bare = false,
): Promise<Prepared> {
  const env = config.env;
  warmTransport(config.string("VAULT_ADDR"));
  resolveApp(argv[0], env.PATH, bare);
  // Registered before anything secret exists (DESIGN.md step 0): from its
  // first secret byte the process is one the enforcer guards.
  hardenFromConfig(config);
  const enforcer = await enforcerState(config);
  signal?.throwIfAborted();
  const region = protectedRegion(config);
  const policy = refreshPolicy(config);
  let kept: TokenStore | undefined;
  let pending: PendingFetch | undefined;
  try {
    const fetching = startFetch({
      config,
      region,
      signal,
      keepToken: (leases) => residentNeeded(policy, leases),
    });
    // While the login is on the wire (the shim's pool thread holds it), the
    // facts that depend neither on the answers nor on a secret: the node's,
    // and the target's ELF when the delivery is to be chosen from it. A
    // failure here is thrown once the fetch has settled, so the catch below
    // wipes and revokes what it made.
    const requested = config.enum("CLOUDTASER_DELIVERY");
    const early = settle(() => ({
      node: nodeFacts(),
      target: requested === "env" || requested === "fd"
        ? undefined
        : inspectTarget(argv[0], env.PATH),
    }));
    pending = await fetching;
    const { node, target } = early();
    const choice = chooseDelivery(requested, target ?? "unknown");
    if (choice.fallback && requested === "interposer") {
      // Asked for secrets outside envp: do not quietly put them there.
      throw new ProtectionMissingError(
        `CLOUDTASER_DELIVERY=interposer cannot work: ` +
          `${describeFallback(choice.fallback)}; set ` +
          `CLOUDTASER_DELIVERY=auto to accept env delivery`,
      );
    }
    if (choice.fallback) {
      log("delivery").warn(fallbackWarning(requested, choice.fallback));
    }
    const delivery = choice.delivery;
    checkOnChange(policy, delivery);
    const ipath = interposerPath();
    if (delivery === "interposer") await mustExist(ipath, "interposer");
    const { entries } = buildChildEnv({
      env,
      secretKeys: region.keys(),
      delivery,
      interposerPath: ipath,
      passthrough: config.list("CLOUDTASER_ENV_PASSTHROUGH"),
    });
    if (delivery === "env") {
      checkExecSize({
        argv,
        entries,
        records: region.keys().map((k) => [k, region.value(k)!.length]),
        limit: execArgLimit(stackLimit()),
      });
    }
    const environ = checkEnviron(
      readOwnEnviron(),
      region.keys().map((k) => [k, region.value(k)!] as [string, Uint8Array]),
    );
    if (!environ.clean) {
      throw new StartError(
        `environ_scrubbed failed: the wrapper's own environment ` +
          `(/proc/self/environ) holds ${environProblem(environ)}; set ` +
          `secrets through Vault (CLOUDTASER_SECRET_PATHS or NAME=vault:PATH#KEY), ` +
          `not as values in the pod spec`,
      );
    }
    // The token's revocation was on the wire meanwhile.
    const fetch = await pending.finish();
    kept = fetch.token;
    const score = scoreFacts(measureFacts({
      region,
      tokenProtected: fetch.tokenProtected,
      // Kept for refresh: revoked at exit instead (docs/refresh.md), and a
      // supplied token is not the wrapper's to revoke either way.
      tokenRevoked: kept
        ? policy.revokeOnExit && fetch.authMethod !== "token"
        : fetch.tokenRevoked,
      tokenRevokedAtExit: kept !== undefined,
      environClean: environ.clean,
      interposer: delivery === "interposer",
      enforcer,
      skipVerify: fetch.skipVerify,
      plainHttp: fetch.plainHttp,
      node,
    }));
    log().info("protection score {score}/{max}", {
      score: score.total,
      max: score.max,
      missing: missing(score),
      delivery,
    });
    const min = config.int("CLOUDTASER_MIN_SCORE");
    if (score.total < min) {
      throw new ProtectionMissingError(
        `protection score ${score.total} is below CLOUDTASER_MIN_SCORE=${min}; ` +
          `missing: ${missing(score).join(", ")}`,
      );
    }
    const refresh = kept && {
      token: kept,
      state: initialState(fetch, policy, Date.now()),
      policy,
    };
    // Refused now, not at the hand-over: check says so too.
    if (refresh) stateWithinLimit(refresh.state);
    return {
      config,
      region,
      fetch,
      delivery,
      childEnv: entries,
      score,
      refresh,
    };
  } catch (e) {
    region.wipe();
    // Failed before the report: finishing revokes the token, or hands back
    // the one kept for refresh, revoked here.
    if (pending && !kept) {
      kept = (await pending.finish().catch(() => undefined))?.token;
    }
    if (kept) await revokeKept(config, kept);
    throw e;
  }
}

/**
 * Step 1: hardens the process as the configuration says (the app's core
 * limit, a tracer allowed or not), logging an allowed tracer. The start,
 * `score` and a refresh each call it once, before anything secret exists.
 */
export function hardenFromConfig(config: Config): void {
  const traced = hardenProcess({
    appCoreDumps: config.bool("CLOUDTASER_APP_CORE_DUMPS"),
    allowTracer: config.bool("CLOUDTASER_ALLOW_TRACER"),
  });
  for (const w of traced) log("protect").warn(w);
}

/**
 * Step 2, after {@link hardenFromConfig}: allocates the secret region as
 * the strict modes demand, logging what fell short.
 */
export function protectedRegion(config: Config): SecretRegion {
  const region = SecretRegion.create({
    requireMemfdSecret: config.bool("CLOUDTASER_REQUIRE_MEMFD_SECRET"),
    requireMlock: config.bool("CLOUDTASER_REQUIRE_MLOCK"),
  });
  region.setFlags(configRegionFlags(config));
  for (const w of region.warnings) log("protect").warn(w);
  log("protect").debug("region fd open for {us} us", {
    us: Math.round(region.fdOpenNs / 1000),
    backing: region.backing,
  });
  return region;
}

/** Registers this process with the node's enforcer, if there is one. */
export async function enforcerState(
  config: Config,
  level: "info" | "debug" = "info",
): Promise<EnforcerState> {
  const socket = config.string("CLOUDTASER_ENFORCER_SOCKET")!;
  const r = await registerWithEnforcer(socket, 2000);
  // Either line marks the end of step 0: the attack matrix freezes a
  // starting wrapper there (tests/support/attacks/starting.ts). A refresh
  // says them at debug: the start said them once.
  if (r.connected) {
    log("enforcer")[level]("registered with the enforcer", {
      mode: r.mode,
      lsm: r.lsm,
    });
  } else {
    log("enforcer")[level]("no enforcer", { reason: r.error ?? "no answer" });
  }
  return { connected: r.connected, mode: r.mode, lsm: r.lsm };
}

/** Runs `work` now; the returned function gives its result or throws its error. */
function settle<T>(work: () => T): () => T {
  try {
    const value = work();
    return () => value;
  } catch (e) {
    return () => {
      throw e;
    };
  }
}

async function mustExist(path: string, what: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch {
    throw new StartError(
      `${what} library not found at ${path} (run \`deno task build\`, or ` +
        `\`cloudtaser-wrapper install DIR\` which puts it beside the binary)`,
    );
  }
}
