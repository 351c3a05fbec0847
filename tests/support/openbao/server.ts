/**
 * A real OpenBao 2.7.2 server for tests and the demo: not dev mode, a TLS
 * listener on a free loopback port with certificates made for the run,
 * in-memory storage, initialised with one key share and unsealed, then
 * configured through its HTTP API:
 *
 * | what | where |
 * |---|---|
 * | KV v2, KV v1 | `secret/`, `kv/` |
 * | policy `app` | read `secret/data/*`, `secret/metadata/*`, `kv/*`, `sys/internal/ui/mounts/*` |
 * | cert auth, role `app` | `auth/cert`, bound to the run's CA |
 * | AppRole, role `app` | `auth/approle`; secret_id in a 0600 file |
 * | JWT, role `app` | `auth/jwt` and `auth/kubernetes` (both type `jwt`, one ES256 key) |
 *
 * Every role gets policy `app` and a 1 h token TTL.
 *
 * As a program (scripts/openbao.ts) it starts one server, prints
 * `export VAULT_...` lines for a shell and stays up until SIGINT or SIGTERM.
 *
 * server_config.ts writes its configuration, server_process.ts runs it,
 * seed.ts fills it.
 */
import { findBao } from "./binary.ts";
import { generateCerts } from "./certs.ts";
import { configure } from "./seed.ts";
import { type Server, spawn } from "./server_process.ts";
import { type OpenBao, OpenBaoError, type OpenBaoOptions } from "./types.ts";

export {
  type ApiOptions,
  type ApiResult,
  type OpenBao,
  OpenBaoError,
  type OpenBaoJwt,
  type OpenBaoOptions,
} from "./types.ts";

/**
 * Starts and configures a real OpenBao server (see the module comment).
 * About 0.5 s on a 2-core machine.
 *
 * @example
 * ```ts
 * import { startOpenBao } from "./server.ts";
 * const bao = await startOpenBao();
 * try {
 *   await bao.api("POST", "secret/data/app/db", { data: { password: "pw" } });
 *   const env = bao.env({ CLOUDTASER_SECRET_PATHS: "secret/data/app/db" });
 *   console.log(env);
 * } finally {
 *   await bao.stop();
 * }
 * ```
 * @throws {OpenBaoError} when the server does not come up or its set-up fails
 * (the message carries the server log's tail); the server is stopped then.
 * @throws {BaoNotFoundError} when `bao` is not installed.
 */
export async function startOpenBao(
  opts: OpenBaoOptions = {},
): Promise<OpenBao> {
  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-openbao-" });
  let s: Server | undefined;
  try {
    const [bao, certs] = await Promise.all([
      findBao(),
      generateCerts({ dir }),
    ]);
    // The free port can be taken between our probe and the server's bind:
    // try a few ports before giving up.
    for (let attempt = 1;; attempt++) {
      s = await spawn(bao, certs, opts);
      try {
        await s.waitHealth(
          () => true,
          opts.startTimeoutMs ?? 15000,
          "to listen",
        );
        break;
      } catch (e) {
        await s.terminate();
        const inUse = /address already in use/.test(s.logTail(100));
        if (!inUse || attempt >= 3) throw e;
        await Deno.remove(s.logFile);
      }
    }
    const init = await s.must("PUT", "sys/init", {
      secret_shares: 1,
      secret_threshold: 1,
    });
    s.unsealKey = init.json.keys_base64[0];
    s.rootToken = init.json.root_token;
    await s.unseal();
    await configure(s, opts);
    return s;
  } catch (e) {
    const logTail = s?.logTail() ?? "";
    await s?.terminate();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (e instanceof OpenBaoError && !e.logTail && logTail) {
      throw new OpenBaoError(e.message, logTail);
    }
    throw e;
  }
}
