/**
 * The wrapper's side of cloudtaser-enforcer registration.
 *
 * Protocol (see docs/enforcer.md): connect to the enforcer's unix socket and
 * send nothing. The enforcer reads the caller's pid with `SO_PEERCRED`,
 * protects that process and everything it forks from then on, answers one
 * JSON line and closes:
 *
 * ```text
 * {"registered":true,"pid":1234,"mode":"enforce","lsm":true}
 * {"registered":false,"pid":1234,"error":"..."}
 * ```
 *
 * The registration is keyed on the pid, not on the connection: it survives
 * the socket's close and `exec` (the wrapper execs into the C supervisor),
 * and the kernel side drops it when the process's last thread exits. So the
 * wrapper does not keep the connection open.
 *
 * @module
 */
import { enforcerExchange } from "../../ffi/shim.ts";

/** What the enforcer answered, as the protection score reads it. */
export interface EnforcerRegistration {
  /** The enforcer answered and protects this process. */
  connected: boolean;
  /** `"enforce"` (denies) or `"detect"` (only logs). */
  mode?: string;
  /** BPF LSM hooks run (synchronous `EPERM`), not the tracepoint fallback. */
  lsm?: boolean;
  /** The pid the enforcer protects (in the enforcer's pid namespace). */
  pid?: number;
  /** Why there is no registration: no socket, no answer, a refusal. */
  error?: string;
}

/**
 * Registers the calling process with cloudtaser-enforcer. Never throws: an
 * absent socket, a timeout or a refusal come back as `connected: false` with
 * `error` set, because the protection score reports them.
 *
 * @param socketPath the enforcer's unix socket
 * @param timeoutMs give up after this long
 * @default timeoutMs 2000
 *
 * @example
 * ```ts
 * import { registerWithEnforcer } from "./client.ts";
 * const reg = await registerWithEnforcer("/run/cloudtaser/enforcer.sock");
 * if (!reg.connected) console.error(`enforcer: ${reg.error}`);
 * ```
 */
export async function registerWithEnforcer(
  socketPath: string,
  timeoutMs = 2000,
): Promise<EnforcerRegistration> {
  // In C on a blocking thread (c/shim/enforcer.c): the event loop, and the
  // watch for a stop signal, go on meanwhile.
  const r = await enforcerExchange(socketPath, timeoutMs);
  if (typeof r !== "string") {
    return parseAnswer(new TextDecoder().decode(r).split("\n")[0]);
  }
  const why = r === "ETIMEDOUT"
    ? `no answer within ${timeoutMs} ms`
    : r === "ECONNREFUSED"
    // a socket file with no listener: the daemon stopped; its pinned
    // programs may still protect earlier registrations, not this one
    ? "no enforcer daemon answers (ECONNREFUSED: connection refused)"
    : r === "ENOENT"
    ? "no such socket (ENOENT: No such file or directory)"
    : `connect/read failed: ${r}`;
  return { connected: false, error: `enforcer socket ${socketPath}: ${why}` };
}

/** Turns the enforcer's answer line into a registration. Pure. */
export function parseAnswer(line: string): EnforcerRegistration {
  let answer: unknown;
  try {
    answer = JSON.parse(line);
  } catch {
    return {
      connected: false,
      error: `enforcer answered no JSON: ${JSON.stringify(line.slice(0, 80))}`,
    };
  }
  if (typeof answer !== "object" || answer === null) {
    return { connected: false, error: "enforcer answered no JSON object" };
  }
  const a = answer as Record<string, unknown>;
  const pid = typeof a.pid === "number" ? a.pid : undefined;
  if (a.registered !== true) {
    return {
      connected: false,
      pid,
      error: `enforcer refused: ${
        typeof a.error === "string" ? a.error : "no reason given"
      }`,
    };
  }
  return {
    connected: true,
    pid,
    mode: typeof a.mode === "string" ? a.mode : undefined,
    lsm: typeof a.lsm === "boolean" ? a.lsm : undefined,
  };
}
