/**
 * Measures the facts the protection score is computed from. Every fact is
 * read from the system's real state (smaps, prctl, sysfs, environ, the
 * enforcer's answer), never assumed from configuration.
 */
import * as native from "../../ffi/mod.ts";
import type { SecretRegion } from "../region/secret_region.ts";
import { type Vma, vmasAround } from "../protect/smaps.ts";

/** What the enforcer answered at registration (absent: no enforcer). */
export interface EnforcerState {
  connected: boolean;
  mode?: string;
  lsm?: boolean;
}

/** The measured facts; see score.ts for what each is worth. */
export interface Facts {
  /** The region's VMA and its neighbours, from /proc/self/smaps. */
  region: Vma | null;
  guardBefore: Vma | null;
  guardAfter: Vma | null;
  canaryIntact: boolean;
  dumpable: boolean;
  /**
   * `RLIMIT_CORE` of this process after hardening, in bytes: the supervisor
   * and the app inherit it (the supervisor re-applies it and logs the app's
   * /proc/<app>/limits). `null` when not measured.
   */
  appCoreLimit: { soft: bigint; hard: bigint } | null;
  /** The Vault token lives only in protected memory. */
  tokenProtected: boolean;
  /**
   * The login token was revoked before the app started, or (when refresh
   * keeps it, `tokenRevokedAtExit`) it and every lease are revoked at exit.
   */
  tokenRevoked: boolean;
  /** Refresh keeps the token: revocation happens at exit, not at start. */
  tokenRevokedAtExit?: boolean;
  /** /proc/self/environ holds no secret key or value. */
  environClean: boolean;
  /** Interposer delivery will be active for the child. */
  interposer: boolean;
  enforcer: EnforcerState;
  /** Names of CPU vulnerabilities the kernel reports as "Vulnerable". */
  cpuVulnerable: string[];
  /** "sev-snp", "sev", "tdx", or null. */
  confidentialVm: string | null;
  /** VAULT_SKIP_VERIFY was honoured. */
  skipVerify: boolean;
  /** VAULT_ADDR was plain http:// (CLOUDTASER_ALLOW_INSECURE_HTTP). */
  plainHttp?: boolean;
}

/** The region's VMA and the VMAs just before and after it. */
export function regionVmas(
  region: SecretRegion | null,
): Pick<Facts, "region" | "guardBefore" | "guardAfter"> {
  const none = { region: null, guardBefore: null, guardAfter: null };
  if (!region) return none;
  const around = vmasAround(
    Deno.readTextFileSync("/proc/self/smaps"),
    region.address,
  );
  if (!around) return none;
  return {
    region: around.vma,
    guardBefore: around.before,
    guardAfter: around.after,
  };
}

/** CPU vulnerabilities the kernel reports as "Vulnerable". */
export function cpuVulnerabilities(
  dir = "/sys/devices/system/cpu/vulnerabilities",
): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      const text = Deno.readTextFileSync(`${dir}/${e.name}`);
      if (text.startsWith("Vulnerable")) out.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    out.push("(no vulnerabilities directory)");
  }
  return out.sort();
}

/** Detects an SEV-SNP, SEV or TDX guest from devices and CPU flags. */
export function confidentialVm(): string | null {
  const exists = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (exists("/dev/tdx_guest")) return "tdx";
  if (exists("/dev/sev-guest")) return "sev-snp";
  let flags = "";
  try {
    const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
    flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "";
  } catch { /* no cpuinfo: not detectable */ }
  const set = new Set(flags.trim().split(/\s+/));
  if (set.has("tdx_guest")) return "tdx";
  if (set.has("hypervisor") && set.has("sev_snp")) return "sev-snp";
  if (set.has("hypervisor") && set.has("sev")) return "sev";
  return null;
}

/** The node's facts: the same for every process on it. */
export type NodeFacts = Pick<Facts, "cpuVulnerable" | "confidentialVm">;

/**
 * Measures the node's facts. The start measures them while its login is on
 * the wire (they depend on nothing it fetches).
 */
export function nodeFacts(): NodeFacts {
  return {
    cpuVulnerable: cpuVulnerabilities(),
    confidentialVm: confidentialVm(),
  };
}

/** Inputs that only the caller knows (what it fetched and negotiated). */
export interface CallerFacts {
  region: SecretRegion | null;
  tokenProtected: boolean;
  tokenRevoked: boolean;
  tokenRevokedAtExit?: boolean;
  environClean: boolean;
  interposer: boolean;
  enforcer: EnforcerState;
  skipVerify: boolean;
  plainHttp?: boolean;
  /** Measured earlier by {@link nodeFacts}; measured now when absent. */
  node?: NodeFacts;
}

/** Measures every fact now (the node's, unless the caller has them). */
export function measureFacts(c: CallerFacts): Facts {
  return {
    ...regionVmas(c.region),
    canaryIntact: c.region ? c.region.canaryIntact() : false,
    dumpable: native.getDumpable(),
    appCoreLimit: native.coreLimit(),
    tokenProtected: c.tokenProtected,
    tokenRevoked: c.tokenRevoked,
    tokenRevokedAtExit: c.tokenRevokedAtExit,
    environClean: c.environClean,
    interposer: c.interposer,
    enforcer: c.enforcer,
    ...(c.node ?? nodeFacts()),
    skipVerify: c.skipVerify,
    plainHttp: c.plainHttp ?? false,
  };
}
