/**
 * The Go contestants: bank-vaults `vault-env` and HashiCorp `envconsul`.
 *
 * The Go module proxy refuses both tools' modules (403 for every version), so
 * a fresh machine cannot `go install` them. What each does at start-up lives in
 * a library the proxy serves (vault-sdk, consul-template); the bench builds a
 * small program per tool (scripts/bench/go/<tool>/, pinned by its go.mod and
 * go.sum) that drives that library along the path the tool's main takes, with
 * the configuration the bench gives the tool. They are built with `go build`
 * into the bench cache (`CLOUDTASER_BENCH_CACHE`, default
 * /var/cache/cloudtaser-bench), the way the tools' own releases are built
 * (CGO_ENABLED=0, `-ldflags "-s -w"`).
 *
 * A real binary of either tool is measured too, labelled as such, when its
 * path is given in `CLOUDTASER_BENCH_VAULT_ENV` or `CLOUDTASER_BENCH_ENVCONSUL`
 * (the bench never builds or fetches the real tools).
 */

const HERE = new URL("./", import.meta.url).pathname;

/** The tool a contestant stands for. */
export type ToolName = "vault-env" | "envconsul";

/** A Go contestant. */
export interface GoTool {
  /** Contestant id: the tool's name, `-real` appended for a real binary. */
  id: string;
  tool: ToolName;
  kind: "re-creation" | "real";
  /** The binary, or undefined when it could not be had. */
  path?: string;
  /** Why it is missing. */
  skipped?: string;
  /** Module versions the binary was built with (`go version -m`). */
  build?: GoBuildInfo;
}

/** What `go version -m` reads out of a Go binary. */
export interface GoBuildInfo {
  go: string;
  /** The main package's path. */
  path: string;
  /** The main module's version ("(devel)" unless built from a tagged
   * checkout). */
  version: string;
  /** Dependency module -> version. */
  deps: Record<string, string>;
  /** Build settings (CGO_ENABLED, -ldflags, ...). */
  settings: Record<string, string>;
}

interface Recreation {
  tool: ToolName;
  /** Directory under scripts/bench/go/. */
  dir: string;
  /** The env variable naming a real binary. */
  realEnv: string;
  /** The library module whose code path it drives. */
  library: string;
  /** What it calls, for the report and the console. */
  calls: string;
}

/** The re-creations, in report order. */
export const RECREATIONS: readonly Recreation[] = [
  {
    tool: "vault-env",
    dir: "vaultenv",
    realEnv: "CLOUDTASER_BENCH_VAULT_ENV",
    library: "github.com/bank-vaults/vault-sdk",
    calls:
      "`vault.NewClientWithOptions(ClientLogger, ClientRole(VAULT_ROLE), " +
      "ClientAuthPath(VAULT_PATH), ClientAuthMethod(VAULT_AUTH_METHOD))` " +
      "(the client reads VAULT_ADDR, the TLS files and VAULT_JWT_FILE and " +
      "logs in), then `injector.NewSecretInjector(...)." +
      "InjectSecretsFromVault(environ, inject)` over its whole environment " +
      "(one read per `vault:<path>#<key>` path), then `syscall.Exec` of the " +
      "app with that environment less the VAULT_* variables; logs routed " +
      "as vault-env's (slog-multi: warnings to stderr, the rest to stdout)",
  },
  {
    tool: "envconsul",
    dir: "envconsul",
    realEnv: "CLOUDTASER_BENCH_ENVCONSUL",
    library: "github.com/hashicorp/consul-template",
    calls: "`hcl.Decode` of the config file and mapstructure of its " +
      "`vault` stanza into `config.VaultConfig`, merged over " +
      "`config.DefaultVaultConfig()` and finalized (VAULT_TOKEN from the " +
      "environment), then `dep.NewClientSet()` + `CreateConsulClient` + " +
      "`CreateVaultClient`, `watch.VaultTokenWatcher`, " +
      "`watch.NewWatcher(Once)` with one `dep.NewVaultReadQuery` per " +
      "`secret` stanza (paths run through a Go template with `env`, as " +
      "envconsul's), the environment built from the data (KV v2 unwrapped, " +
      "`no_prefix`), then `child.CommandPrep` of the arguments joined by " +
      "spaces (`sh -c`) and `child.New` + `Start`: the app runs as a " +
      "subprocess, this process stays its parent and exits with its code",
  },
];

/** The cache dir for Go builds and binaries. */
export function benchCacheDir(): string {
  return Deno.env.get("CLOUDTASER_BENCH_CACHE") ??
    "/var/cache/cloudtaser-bench";
}

function mtime(path: string): number {
  try {
    const s = Deno.statSync(path);
    return s.isFile ? s.mtime?.getTime() ?? 0 : 0;
  } catch {
    return 0;
  }
}

const dec = new TextDecoder();

function firstLines(bytes: Uint8Array, n: number): string {
  return dec.decode(bytes).trim().split("\n").filter(Boolean).slice(0, n)
    .join(" ").replace(/\s+/g, " ")
    // Name the registry, not its host, in what gets committed.
    .replace(/https?:\/\/\S+/g, "the module proxy");
}

/** The Go environment: everything in the bench cache, nothing downloaded
 * but modules, no cgo (as the tools' releases). */
function goEnv(cache: string): Record<string, string> {
  return {
    GOCACHE: `${cache}/gocache`,
    GOMODCACHE: `${cache}/gomod`,
    GOFLAGS: "-modcacherw -mod=readonly -buildvcs=false",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
  };
}

/**
 * `go version -m` of a binary, or undefined when Go cannot read it.
 *
 * @example
 * ```ts
 * const info = await goBuildInfo("/usr/local/bin/vault-env");
 * console.log(info?.deps["github.com/bank-vaults/vault-sdk"]);
 * ```
 */
export async function goBuildInfo(
  binary: string,
): Promise<GoBuildInfo | undefined> {
  try {
    const r = await new Deno.Command("go", {
      args: ["version", "-m", binary],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    if (!r.success) return undefined;
    const info: GoBuildInfo = {
      go: "",
      path: "",
      version: "",
      deps: {},
      settings: {},
    };
    for (const line of dec.decode(r.stdout).split("\n")) {
      const f = line.trim().split(/\s+/);
      if (line.startsWith(binary)) info.go = f[1] ?? "";
      else if (f[0] === "path") info.path = f[1] ?? "";
      else if (f[0] === "mod") info.version = f[2] ?? "";
      else if (f[0] === "dep") info.deps[f[1]] = f[2] ?? "";
      else if (f[0] === "build") {
        const [k, ...v] = line.trim().slice("build".length).trim().split("=");
        info.settings[k] = v.join("=");
      }
    }
    return info;
  } catch {
    return undefined;
  }
}

/** Builds one re-creation unless its binary is newer than its sources. */
async function buildRecreation(
  r: Recreation,
  cache: string,
): Promise<GoTool> {
  const tool: GoTool = { id: r.tool, tool: r.tool, kind: "re-creation" };
  const src = `${HERE}go/${r.dir}`;
  const out = `${cache}/bin/${r.tool}-recreation`;
  // Rebuilt when its sources or this file (the build flags) change.
  const newest = Math.max(
    mtime(new URL(import.meta.url).pathname),
    ...["main.go", "go.mod", "go.sum"].map((f) => mtime(`${src}/${f}`)),
  );
  if (mtime(out) <= newest) {
    try {
      const b = await new Deno.Command("go", {
        args: ["build", "-trimpath", "-ldflags=-s -w", "-o", out, "."],
        cwd: src,
        env: goEnv(cache),
        stdout: "piped",
        stderr: "piped",
        // The first build fetches a few hundred modules and compiles them.
        signal: AbortSignal.timeout(900_000),
      }).output();
      if (!b.success) {
        return {
          ...tool,
          skipped: `go build of scripts/bench/go/${r.dir} failed: ${
            firstLines(b.stderr, 3)
          }`,
        };
      }
    } catch (e) {
      return {
        ...tool,
        skipped: `go build of scripts/bench/go/${r.dir} could not run: ${
          (e as Error).message
        }`,
      };
    }
  }
  return { ...tool, path: out, build: await goBuildInfo(out) };
}

/** The real binary named by the tool's env variable, if any. */
async function realBinary(r: Recreation): Promise<GoTool | undefined> {
  const path = Deno.env.get(r.realEnv);
  if (!path) return undefined;
  const tool: GoTool = { id: `${r.tool}-real`, tool: r.tool, kind: "real" };
  try {
    const s = Deno.statSync(path);
    if (!s.isFile || !((s.mode ?? 0) & 0o111)) {
      return { ...tool, skipped: `${r.realEnv}=${path} is not executable` };
    }
  } catch (e) {
    return {
      ...tool,
      skipped: `${r.realEnv}=${path}: ${(e as Error).message}`,
    };
  }
  return { ...tool, path, build: await goBuildInfo(path) };
}

/**
 * Returns the re-creations (built when stale) and any real binaries given,
 * in report order.
 *
 * @example
 * ```ts
 * for (const t of await goTools()) console.log(t.id, t.path ?? t.skipped);
 * ```
 */
export async function goTools(): Promise<GoTool[]> {
  const cache = benchCacheDir();
  await Deno.mkdir(`${cache}/bin`, { recursive: true });
  const out: GoTool[] = [];
  for (const r of RECREATIONS) {
    out.push(await buildRecreation(r, cache));
    const real = await realBinary(r);
    if (real) out.push(real);
  }
  return out;
}

/** What a Go contestant is, in one sentence, for the console and report. */
export function describeGoTool(t: GoTool): string {
  const r = RECREATIONS.find((x) => x.tool === t.tool)!;
  const lib = t.build?.deps[r.library];
  if (t.kind === "real") {
    const b = t.build;
    const rev = b?.settings["vcs.revision"]?.slice(0, 12);
    return `${t.id}: the real ${t.tool} binary given in ${r.realEnv}` + (b
      ? ` (${b.path} ${b.version}${rev ? ` at ${rev}` : ""}, ${r.library} ` +
        `${lib ?? "?"}, ${b.go}, CGO_ENABLED=` +
        `${b.settings.CGO_ENABLED ?? "?"}, -trimpath=` +
        `${b.settings["-trimpath"] ?? "false"})`
      : "") +
      ".";
  }
  return `${t.id}: a library re-creation, not the real binary: ` +
    `scripts/bench/go/${r.dir}/main.go${
      lib ? ` built with ${r.library} ${lib}` : ""
    } calls ${r.calls}.`;
}
