/**
 * The protection score: each check of DESIGN.md's table, scored from
 * measured facts (facts.ts). Pure.
 */
import type { Facts } from "./facts.ts";

/** One row of the score table. */
export interface Check {
  name: string;
  max: number;
  points: number;
  ok: boolean;
  /** What was measured, in a few words (never a value). */
  detail: string;
}

/** The whole score. */
export interface Score {
  total: number;
  max: number;
  checks: Check[];
}

/** Points lost when TLS verification is off (VAULT_SKIP_VERIFY). */
export const SKIP_VERIFY_PENALTY = 10;
/**
 * Points lost when VAULT_ADDR is plain http:// (CLOUDTASER_ALLOW_INSECURE_HTTP):
 * worse than an unverified certificate, since a passive listener reads it.
 */
export const PLAIN_HTTP_PENALTY = 25;

function row(name: string, max: number, ok: boolean, detail: string): Check {
  return { name, max, points: ok ? max : 0, ok, detail };
}

function isGuard(v: Facts["guardBefore"]): boolean {
  return v !== null && v.perms.startsWith("---");
}

function limitText(n: bigint): string {
  return n === 0xffff_ffff_ffff_ffffn ? "unlimited" : String(n);
}

// 1/1: no file core fits, the kernel aborts pipe cores at exactly 1, and the
// hard limit cannot be raised without CAP_SYS_RESOURCE.
function appCoreRow(l: Facts["appCoreLimit"]): Check {
  const ok = l !== null && l.soft === 1n && l.hard === 1n;
  const now = l ? `${limitText(l.soft)}/${limitText(l.hard)}` : "unmeasured";
  return row(
    "app_core_limit",
    5,
    ok,
    ok
      ? "app RLIMIT_CORE 1/1: a crash writes no core (file or pipe)"
      : `app RLIMIT_CORE ${now}: a crash can dump the app's memory ` +
        "(exec leaves it dumpable)",
  );
}

/** Scores the facts. */
export function scoreFacts(f: Facts): Score {
  const flags = f.region?.flags ?? new Set<string>();
  const e = f.enforcer;
  const checks: Check[] = [
    row(
      "memfd_secret",
      15,
      f.region?.path.includes("/secretmem") ?? false,
      f.region ? `mapping ${f.region.path || "(anonymous)"}` : "no region",
    ),
    row(
      "mlock",
      10,
      flags.has("lo"),
      `VmFlags lo ${flags.has("lo") ? "set" : "missing"}`,
    ),
    row(
      "core_dump_exclusion",
      5,
      flags.has("dd"),
      `VmFlags dd ${flags.has("dd") ? "set" : "missing"}`,
    ),
    row(
      "dumpable_disabled",
      5,
      !f.dumpable,
      `PR_GET_DUMPABLE = ${f.dumpable ? 1 : 0}`,
    ),
    row(
      "token_protected",
      10,
      f.tokenProtected,
      f.tokenProtected
        ? "token only in protected memory"
        : "token exposed or not held in protected memory",
    ),
    row(
      "token_revoked",
      5,
      f.tokenRevoked,
      f.tokenRevokedAtExit
        ? f.tokenRevoked
          ? "token and leases revoked at exit (kept for refresh)"
          : "token and leases stay valid until their TTL " +
            "(CLOUDTASER_REVOKE_ON_EXIT=false, or a supplied token)"
        : f.tokenRevoked
        ? "login token revoked before the app started"
        : "the token stays valid until its TTL",
    ),
    row(
      "environ_scrubbed",
      5,
      f.environClean,
      f.environClean
        ? "/proc/self/environ clean"
        : "secret found in /proc/self/environ",
    ),
    row(
      "getenv_interposer",
      10,
      f.interposer,
      f.interposer ? "interposer delivery" : "secrets in the app's envp",
    ),
    row(
      "ebpf_agent_connected",
      10,
      e.connected,
      e.connected ? "registered with the enforcer" : "no enforcer",
    ),
    row(
      "ebpf_enforce_mode",
      15,
      e.connected && e.mode === "enforce",
      e.connected ? `mode ${e.mode ?? "unknown"}` : "no enforcer",
    ),
    row(
      "ebpf_lsm",
      15,
      e.connected && e.lsm === true,
      e.connected
        ? (e.lsm
          ? "BPF LSM hooks attached"
          : "tracepoint fallback (detect and kill)")
        : "no enforcer",
    ),
    row(
      "cpu_mitigations",
      5,
      f.cpuVulnerable.length === 0,
      f.cpuVulnerable.length
        ? `vulnerable: ${f.cpuVulnerable.join(", ")}`
        : "no Vulnerable entry",
    ),
    row(
      "confidential_vm",
      10,
      f.confidentialVm !== null,
      f.confidentialVm ?? "no SEV-SNP/TDX guest detected",
    ),
    row(
      "guard_pages",
      5,
      isGuard(f.guardBefore) && isGuard(f.guardAfter),
      isGuard(f.guardBefore) && isGuard(f.guardAfter)
        ? "PROT_NONE on both sides"
        : "guard pages missing",
    ),
    row(
      "buffer_canary",
      5,
      f.canaryIntact,
      f.canaryIntact ? "canary intact" : "canary broken or absent",
    ),
    appCoreRow(f.appCoreLimit),
  ];
  if (f.skipVerify) {
    checks.push({
      name: "tls_verification",
      max: 0,
      points: -SKIP_VERIFY_PENALTY,
      ok: false,
      detail: "VAULT_SKIP_VERIFY: server certificate not verified",
    });
  }
  if (f.plainHttp) {
    checks.push({
      name: "tls_transport",
      max: 0,
      points: -PLAIN_HTTP_PENALTY,
      ok: false,
      detail: "VAULT_ADDR is plain http://: token and secrets in clear",
    });
  }
  const total = checks.reduce((s, c) => s + c.points, 0);
  const max = checks.reduce((s, c) => s + c.max, 0);
  return { total, max, checks };
}

/** The score as an aligned text table. */
export function formatScore(s: Score): string {
  const w = Math.max(...s.checks.map((c) => c.name.length));
  const lines = s.checks.map((c) =>
    `${c.ok ? "ok  " : "MISS"} ${c.name.padEnd(w)} ${
      String(c.points).padStart(3)
    }/${String(c.max).padEnd(3)} ${c.detail}`
  );
  return [...lines, `protection score: ${s.total}/${s.max}`].join("\n");
}

/** Names of the checks that scored nothing (for CLOUDTASER_MIN_SCORE errors). */
export function missing(s: Score): string[] {
  return s.checks.filter((c) => !c.ok).map((c) => c.name);
}
