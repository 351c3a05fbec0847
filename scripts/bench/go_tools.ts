/**
 * bank-vaults `vault-env` and HashiCorp `envconsul`, built with `go install`
 * from the Go module proxy into a cache dir (`CLOUDTASER_BENCH_CACHE`,
 * default /var/cache/cloudtaser-bench). A tool that cannot be built is
 * skipped with the reason; a binary already in the cache is used as is.
 */

/** A tool the bench compares against. */
export interface GoTool {
  name: "vault-env" | "envconsul";
  module: string;
  /** The binary, or undefined when it could not be built. */
  path?: string;
  /** Why it is missing. */
  skipped?: string;
}

const MODULES = {
  "vault-env": "github.com/bank-vaults/vault-env@latest",
  envconsul: "github.com/hashicorp/envconsul@latest",
} as const;

/** The cache dir for Go builds and binaries. */
export function benchCacheDir(): string {
  return Deno.env.get("CLOUDTASER_BENCH_CACHE") ??
    "/var/cache/cloudtaser-bench";
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Returns each tool, building the missing ones (bounded: 5 minutes each).
 *
 * @example
 * ```ts
 * for (const t of await goTools()) console.log(t.name, t.path ?? t.skipped);
 * ```
 */
export async function goTools(): Promise<GoTool[]> {
  const cache = benchCacheDir();
  const bin = `${cache}/bin`;
  await Deno.mkdir(bin, { recursive: true });
  const out: GoTool[] = [];
  for (const [name, module] of Object.entries(MODULES)) {
    const tool: GoTool = { name: name as GoTool["name"], module };
    const path = `${bin}/${name}`;
    if (exists(path)) {
      out.push({ ...tool, path });
      continue;
    }
    try {
      const r = await new Deno.Command("go", {
        args: ["install", module],
        env: {
          GOBIN: bin,
          GOCACHE: `${cache}/gocache`,
          GOMODCACHE: `${cache}/gomod`,
          GOFLAGS: "-modcacherw",
        },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(300_000),
      }).output();
      if (r.success && exists(path)) {
        out.push({ ...tool, path });
      } else {
        const msg = new TextDecoder().decode(r.stderr).trim().split("\n")
          .filter(Boolean);
        out.push({
          ...tool,
          skipped: `go install ${module} failed: ${
            msg.slice(0, 2).join(" ").replace(/\s+/g, " ")
              // Name the registry, not its host, in what gets committed.
              .replace(/reading https?:\/\/\S+/g, "reading the module list:")
          }`,
        });
      }
    } catch (e) {
      out.push({
        ...tool,
        skipped: `go install ${module} could not run: ${(e as Error).message}`,
      });
    }
  }
  return out;
}
