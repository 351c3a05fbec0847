/**
 * Starts a configured OpenBao server on a loopback port for a shell
 * (tests/support/openbao/server.ts), prints `export VAULT_...` lines and
 * runs until SIGINT or SIGTERM:
 *
 * ```sh
 * deno run -A scripts/openbao.ts
 * ```
 */
import { startOpenBao } from "../tests/support/openbao/server.ts";
import type { Server } from "../tests/support/openbao/server_process.ts";

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function main(): Promise<void> {
  if (Deno.args.includes("-h") || Deno.args.includes("--help")) {
    console.log(
      "usage: deno run -A scripts/openbao.ts\n\n" +
        "Starts a configured OpenBao server on a loopback port, prints " +
        "`export VAULT_...` lines\nfor a shell and runs until SIGINT or SIGTERM.",
    );
    return;
  }
  const t0 = performance.now();
  const bao = await startOpenBao();
  const ms = Math.round(performance.now() - t0);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.error(`stopping OpenBao (pid ${bao.pid})`);
    await bao.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const jwtFile = await bao.jwt.writeFile();
  const lines = [
    `# OpenBao ${bao.addr} (pid ${bao.pid}), started in ${ms} ms; ` +
    `Ctrl-C stops it and removes ${bao.dir}`,
    ...Object.entries(bao.env()).map(([k, v]) =>
      `export ${k}=${shellQuote(v)}`
    ),
    `# root token (for bao/curl): BAO_TOKEN=${shellQuote(bao.rootToken)}`,
    `# approle: role ${bao.approle.role}, role_id ${bao.approle.roleId}, ` +
    `secret_id in ${bao.approle.secretIdFile}`,
    `# jwt at auth/jwt and auth/kubernetes: role ${bao.jwt.role}, ` +
    `a token in ${jwtFile}`,
    `# server log: ${bao.logFile}`,
  ];
  console.log(lines.join("\n"));
  // Stay up while the server does; if it dies on its own, say so.
  const status = await (bao as Server).exited;
  if (!stopping) {
    console.error(
      `OpenBao exited on its own (code ${status.code})\n${bao.logTail()}`,
    );
    await bao.stop();
    Deno.exit(1);
  }
}

if (import.meta.main) await main();
