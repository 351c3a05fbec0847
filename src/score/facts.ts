/**
 * Measures the facts the protection score is computed from. Every fact is
 * read from the system's real state (smaps, prctl, sysfs, environ, the
 * enforcer's answer), never assumed from configuration.
 */
import * as native from "../../ffi/mod.ts";
import type { SecretRegion } from "../region/secret_region.ts";
import { parseSmaps, type Vma } from "../protect/smaps.ts";

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
  if (!region) return { region: null, guardBefore: null, guardAfter: null };
  const vmas = parseSmaps(Deno.readTextFileSync("/proc/self/smaps"));
  const i = vmas.findIndex((v) => v.start === region.address);
  if (i < 0) return { region: null, guardBefore: null, guardAfter: null };
  const r = vmas[i];
  const before = vmas[i - 1]?.end === r.start ? vmas[i - 1] : null;
  const after = vmas[i + 1]?.start === r.end ? vmas[i + 1] : null;
  return { region: r, guardBefore: before, guardAfter: after };
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
}

/** Measures every fact now. */
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
    cpuVulnerable: cpuVulnerabilities(),
    confidentialVm: confidentialVm(),
    skipVerify: c.skipVerify,
    plainHttp: c.plainHttp ?? false,
  };
}
