/**
 * The start-up contestants and the secrets they fetch. Each contestant turns
 * the app's command line into its own, with its own environment, against the
 * same OpenBao (TLS; client-certificate login where the tool supports it).
 */
import { BUNDLE } from "../../tests/support/bundle.ts";
import { V8_FLAGS } from "../../ffi/constants.ts";
import { BASELINE_COMMIT, baselineArgv } from "./baseline.ts";
import type { OpenBao } from "../../tests/support/openbao/server.ts";
import type { GoTool } from "./go_tools.ts";
import type { BenchTools } from "./native.ts";

/** Every env name the bench writes starts with this. */
export const PREFIX = "BENCH_";

/** `count` secrets spread over `paths` KV v2 paths, written to the server. */
export interface SecretSet {
  count: number;
  paths: number;
  /** API paths, e.g. `secret/data/bench/n10p1/0`. */
  apiPaths: string[];
  /** [apiPath, key] for every secret. */
  keys: Array<[string, string]>;
}

/** What every contestant may use. */
export interface Fixture {
  bao: OpenBao;
  tools: BenchTools;
  /** A token with policy `app`, for tools that cannot log in with a cert. */
  appToken: string;
  /** A JWT the server's `auth/jwt` role `app` accepts. */
  jwtFile: string;
  /** An empty dir used as HOME for the Go tools (no ~/.vault-token). */
  home: string;
  /** Scratch dir for per-contestant config files. */
  dir: string;
  /** A socket path where no enforcer listens. */
  noEnforcer: string;
}

/** One way of starting the app. */
export interface Contestant {
  id: string;
  label: string;
  /** Secrets the app must see (the floor delivers none). */
  delivers: boolean;
  /** How it authenticates, for the report. */
  auth: string;
  command(app: string[], set: SecretSet, fx: Fixture): string[];
  env(set: SecretSet, fx: Fixture): Record<string, string>;
}

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes `count` secrets in `paths` paths (keys `BENCH_<path>_<i>`, 32-char
 * values) and returns where they are.
 */
export async function writeSecretSet(
  bao: OpenBao,
  count: number,
  paths: number,
): Promise<SecretSet> {
  const apiPaths: string[] = [];
  const keys: Array<[string, string]> = [];
  for (let p = 0; p < paths; p++) {
    const api = `secret/data/bench/n${count}p${paths}/${p}`;
    const data: Record<string, string> = {};
    const per = Math.floor(count / paths) + (p < count % paths ? 1 : 0);
    for (let i = 0; i < per; i++) {
      const key = `${PREFIX}${p}_${i}`;
      data[key] = hex(16);
      keys.push([api, key]);
    }
    const r = await bao.api("POST", api, { data });
    if (r.status >= 300) throw new Error(`write ${api}: ${r.status}`);
    apiPaths.push(api);
  }
  return { count, paths, apiPaths, keys };
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: Deno.env.get("PATH") ?? "" };
  for (const k of ["HOME", "DENO_DIR", "LANG"]) {
    const v = Deno.env.get(k);
    if (v) env[k] = v;
  }
  return env;
}

const direct: Contestant = {
  id: "direct",
  label: "app exec'd directly (floor)",
  delivers: false,
  auth: "-",
  command: (app) => app,
  env: () => ({ PATH: Deno.env.get("PATH") ?? "" }),
};

const shell: Contestant = {
  id: "shell",
  label: "sh entrypoint: curl + jq + exec",
  delivers: true,
  auth: "cert",
  command: (app, _set, fx) => [fx.tools.entrypoint, ...app],
  env: (set, fx) => ({
    PATH: Deno.env.get("PATH") ?? "",
    VAULT_ADDR: fx.bao.addr,
    VAULT_CACERT: fx.bao.caCert,
    VAULT_CLIENT_CERT: fx.bao.clientCert,
    VAULT_CLIENT_KEY: fx.bao.clientKey,
    VAULT_AUTH_ROLE: "app",
    SECRET_PATHS: set.apiPaths.join(","),
  }),
};

/**
 * The wrapper as it ships: `deno run` of the bundle (tests/support/bundle.ts)
 * with the flags c/launcher/launcher.c gives it (no deno.json or lock file
 * is looked for, as in an app's container).
 */
export function wrapperArgv(): string[] {
  return [...DENO_RUN, BUNDLE, "--"];
}

/** `deno run` as c/launcher/launcher.c starts the bundle. */
export const DENO_RUN = [
  Deno.execPath(),
  "run",
  "-A",
  "--no-config",
  "--no-lock",
  V8_FLAGS,
];

function wrapper(delivery: "env" | "interposer"): Contestant {
  return {
    id: `wrapper-${delivery}`,
    label: `cloudtaser-wrapper, ${delivery} delivery`,
    delivers: true,
    auth: "cert",
    command: (app) => [...wrapperArgv(), ...app],
    env: (set, fx) => ({
      ...baseEnv(),
      ...fx.bao.env({
        CLOUDTASER_SECRET_PATHS: set.apiPaths.join(","),
        CLOUDTASER_DELIVERY: delivery,
        CLOUDTASER_ENFORCER_SOCKET: fx.noEnforcer,
      }),
    }),
  };
}

/**
 * The wrapper at {@link BASELINE_COMMIT}, before issue 16's work, as its
 * bench ran it (scripts/bench/baseline.ts): the reference of the "half the
 * CPU per start" target, measured in the same run.
 */
function wrapperBaseline(
  delivery: "env" | "interposer",
  dir: string,
): Contestant {
  const w = wrapper(delivery);
  return {
    ...w,
    id: `${w.id}-base`,
    label: `cloudtaser-wrapper at ${BASELINE_COMMIT} (before issue 16), ` +
      `${delivery} delivery`,
    command: (app) => [...baselineArgv(dir), ...app],
  };
}

/**
 * The wrapper as a new container starts it: an empty, writable DENO_DIR
 * every run. Deno then analyses the bundle's imports and writes its caches
 * (dependency analysis, V8 code cache: SQLite files) where the other rows
 * find them from the previous run; a pod's container starts with none.
 */
function wrapperCold(): Contestant {
  const w = wrapper("env");
  return {
    ...w,
    id: "wrapper-env-cold",
    label: "cloudtaser-wrapper, env delivery, empty DENO_DIR (a new container)",
    env: (set, fx) => ({
      ...w.env(set, fx),
      DENO_DIR: Deno.makeTempDirSync({ dir: fx.dir, prefix: "deno-dir-" }),
    }),
  };
}

/**
 * The wrapper as the launcher starts it in a pod: DENO_DIR is the layout's
 * `lib/deno-dir` on a read-only volume (README, "The install layout"), so
 * Deno can neither read nor write a cache and keeps them in memory. Here a
 * directory under a regular file stands for it (mkdir fails the same way).
 */
function wrapperPod(): Contestant {
  const w = wrapper("env");
  return {
    ...w,
    id: "wrapper-env-pod",
    label:
      "cloudtaser-wrapper, env delivery, no cache directory it can write (the launcher in a pod)",
    env: (set, fx) => {
      const file = `${fx.dir}/not-a-directory`;
      Deno.writeTextFileSync(file, "");
      return { ...w.env(set, fx), DENO_DIR: `${file}/deno-dir` };
    },
  };
}

function goLabel(t: GoTool, name: string): string {
  return t.kind === "real" ? `${name} (real binary)` : `${name} (re-creation)`;
}

function vaultEnv(t: GoTool): Contestant {
  const bin = t.path!;
  return {
    id: t.id,
    label: goLabel(t, "bank-vaults vault-env"),
    delivers: true,
    // vault-sdk logs in with JWT-based methods only (no cert auth).
    auth: "jwt",
    command: (app) => [bin, ...app],
    env: (set, fx) => {
      const env: Record<string, string> = {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: fx.home,
        VAULT_ADDR: fx.bao.addr,
        VAULT_CACERT: fx.bao.caCert,
        VAULT_CLIENT_CERT: fx.bao.clientCert,
        VAULT_CLIENT_KEY: fx.bao.clientKey,
        VAULT_AUTH_METHOD: "jwt",
        VAULT_PATH: "jwt",
        VAULT_ROLE: "app",
        VAULT_JWT_FILE: fx.jwtFile,
        KUBERNETES_SERVICE_ACCOUNT_TOKEN: fx.jwtFile,
        VAULT_CACERT_RELOAD: "false",
        // vault-env logs INFO to stdout, where the launcher reports; it
        // strips this variable from the app's environment (so does the
        // re-creation).
        VAULT_LOG_LEVEL: "warn",
      };
      for (const [path, key] of set.keys) env[key] = `vault:${path}#${key}`;
      return env;
    },
  };
}

function envconsul(t: GoTool): Contestant {
  const bin = t.path!;
  return {
    id: t.id,
    label: goLabel(t, "HashiCorp envconsul"),
    delivers: true,
    // envconsul takes a Vault token; it has no login of its own.
    auth: "token (pre-issued)",
    command: (app, set, fx) => {
      const file = `${fx.dir}/${t.id}-n${set.count}p${set.paths}.hcl`;
      const secrets = set.apiPaths.map((p) =>
        `secret {\n  no_prefix = true\n  path = ${JSON.stringify(p)}\n}\n`
      ).join("");
      Deno.writeTextFileSync(
        file,
        `vault {\n  address = ${JSON.stringify(fx.bao.addr)}\n` +
          `  renew_token = false\n  ssl {\n    enabled = true\n` +
          `    verify = true\n    ca_cert = ${
            JSON.stringify(fx.bao.caCert)
          }\n` +
          `    cert = ${JSON.stringify(fx.bao.clientCert)}\n` +
          `    key = ${JSON.stringify(fx.bao.clientKey)}\n  }\n}\n${secrets}`,
      );
      return [bin, "-config", file, "-once", ...app];
    },
    env: (_set, fx) => ({
      PATH: Deno.env.get("PATH") ?? "",
      HOME: fx.home,
      VAULT_TOKEN: fx.appToken,
    }),
  };
}

/**
 * Every contestant that can run here, in report order; the baselines when
 * `baselineDir` holds the built baseline tree.
 */
export function contestants(
  goTools: GoTool[],
  baselineDir?: string,
): Contestant[] {
  const list = [
    direct,
    shell,
    wrapper("env"),
    wrapper("interposer"),
    wrapperCold(),
    wrapperPod(),
  ];
  if (baselineDir) {
    list.push(
      wrapperBaseline("env", baselineDir),
      wrapperBaseline("interposer", baselineDir),
    );
  }
  for (const t of goTools) {
    if (!t.path) continue;
    list.push(t.tool === "vault-env" ? vaultEnv(t) : envconsul(t));
  }
  return list;
}
