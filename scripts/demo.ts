/**
 * The demo (README's main command): a local OpenBao with TLS and cert auth,
 * demo secrets, then the wrapper's `check` (score table) and `run` around a
 * small app in env and interposer delivery. Cleans up after itself.
 */
import { startOpenBao } from "../tests/support/openbao/server.ts";

const root = new URL("../", import.meta.url).pathname;
const main = `${root}src/main.ts`;
const app = `${root}scripts/demo_app.sh`;

function random(n: number): string {
  const b = crypto.getRandomValues(new Uint8Array(n));
  return btoa(String.fromCharCode(...b)).replace(/[^A-Za-z0-9]/g, "x");
}

async function wrapper(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${root}deno.json`, main, ...args],
    env,
    clearEnv: true,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stderr).trim();
  return { code: out.code, log };
}

console.log("starting OpenBao 2.7.2 with a TLS listener and cert auth ...");
const bao = await startOpenBao();
try {
  await bao.api("POST", "secret/data/demo/db", {
    data: { username: "demo-user", password: random(24) },
  });
  await bao.api("POST", "secret/data/demo/api", { data: { key: random(32) } });
  const env = bao.env({
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: "/root",
    CLOUDTASER_SECRET_PATHS: "secret/data/demo/db,secret/data/demo/api",
    CLOUDTASER_ENV_MAP: "username=DB_USER,password=DB_PASSWORD;key=API_KEY",
    CLOUDTASER_REQUIRE_MEMFD_SECRET: "true",
  });
  console.log(
    `OpenBao at ${bao.addr}; wrapper configured with VAULT_AUTH_METHOD=cert\n`,
  );

  console.log("$ cloudtaser-wrapper check");
  const check = await wrapper(["check"], env);
  if (check.code !== 0) throw new Error(`check failed:\n${check.log}`);

  for (const delivery of ["env", "interposer"]) {
    console.log(
      `\n$ CLOUDTASER_DELIVERY=${delivery} cloudtaser-wrapper -- ${app}`,
    );
    const r = await wrapper(["--", app], {
      ...env,
      CLOUDTASER_DELIVERY: delivery,
    });
    const score = r.log.split("\n").map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    }).find((l) => l.message?.startsWith("protection score"));
    console.log(`  exit ${r.code}; ${score?.message ?? "no score line"}`);
    if (r.code !== 0) throw new Error(`run failed:\n${r.log}`);
  }
  console.log(
    "\nIn env delivery the app's own /proc/<pid>/environ holds its secrets " +
      "(as with every injector);\nin interposer delivery it holds none, and the " +
      "wrapper's never does.",
  );
} finally {
  await bao.stop();
}
