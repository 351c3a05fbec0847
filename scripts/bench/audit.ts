/**
 * Counts the requests OpenBao receives, from a file audit device. OpenBao
 * 2.x refuses `PUT sys/audit/...` ("use declarative, config-based audit
 * device management"), so the device is added to the server's own config
 * file in its temp dir and the server reloads it on SIGHUP; `stop()` removes
 * it again the same way.
 */
import type { OpenBao } from "../../tests/support/openbao/server.ts";

/** A file audit device on a running server. */
export interface AuditCounter {
  /** Request entries logged since the previous call. */
  take(): number;
  /** Removes the device (config restored, SIGHUP) and waits until it is gone. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitDevice(bao: OpenBao, present: boolean): Promise<void> {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const r = await bao.api("GET", "sys/audit");
    if (r.status === 200 && ("bench/" in (r.json?.data ?? {})) === present) {
      return;
    }
    await sleep(50);
  }
  throw new Error(
    `the audit device did not ${present ? "appear" : "go away"} after SIGHUP`,
  );
}

/**
 * Adds the device and waits until it is active.
 *
 * @example
 * ```ts
 * const audit = await startAudit(bao);
 * try { await doSomething(); console.log(audit.take()); } finally { await audit.stop(); }
 * ```
 */
export async function startAudit(bao: OpenBao): Promise<AuditCounter> {
  const config = `${bao.dir}/server.hcl`;
  const log = `${bao.dir}/audit.log`;
  const original = await Deno.readTextFile(config);
  await Deno.writeTextFile(
    config,
    `${original}\naudit "file" "bench" {\n  options {\n` +
      `    file_path = ${JSON.stringify(log)}\n  }\n}\n`,
  );
  Deno.kill(bao.pid, "SIGHUP");
  await waitDevice(bao, true);
  let offset = (await Deno.stat(log)).size;
  return {
    take() {
      const bytes = Deno.readFileSync(log);
      const text = new TextDecoder().decode(bytes.subarray(offset));
      offset = bytes.length;
      return text.split("\n").filter((l) => l.includes('"type":"request"'))
        .length;
    },
    async stop() {
      await Deno.writeTextFile(config, original);
      Deno.kill(bao.pid, "SIGHUP");
      await waitDevice(bao, false);
    },
  };
}
