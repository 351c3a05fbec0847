/**
 * Where a denort runtime for `deno compile` can be found. Deno fetches it
 * from its download site, which is not reachable from the machines this
 * project is built on; it must come from DENORT_BIN or from the cache at
 * $DENO_DIR/dl/release/v<version>/denort-x86_64-unknown-linux-gnu.zip.
 * scripts/compile.ts and the tests that need the compiled binary ask here.
 */
export const DENORT_ZIP = "denort-x86_64-unknown-linux-gnu.zip";

/** Where a denort runtime can be found, or null. */
export function findDenort(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): { kind: "DENORT_BIN" | "cache"; path: string } | null {
  const exists = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  if (env.DENORT_BIN && exists(env.DENORT_BIN)) {
    return { kind: "DENORT_BIN", path: env.DENORT_BIN };
  }
  const denoDir = env.DENO_DIR ?? `${env.HOME ?? "/root"}/.cache/deno`;
  const zip = `${denoDir}/dl/release/v${Deno.version.deno}/${DENORT_ZIP}`;
  return exists(zip) ? { kind: "cache", path: zip } : null;
}
