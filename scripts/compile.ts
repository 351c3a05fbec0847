/**
 * `deno task compile`: writes dist/cloudtaser-wrapper, one file with the
 * native libraries (build/) embedded.
 *
 * `deno compile` needs the `denort` runtime, which Deno fetches from its
 * download site. Where that site is unreachable, it must come from
 * DENORT_BIN or from the cache at
 * $DENO_DIR/dl/release/v<version>/denort-x86_64-unknown-linux-gnu.zip.
 * Without either this stops and says so (nothing else depends on it),
 * unless DENORT_DOWNLOAD=true lets `deno compile` fetch it (a build that
 * reaches Deno's download site: the Containerfile's build stage).
 *
 * `dist/cloudtaser-wrapper install DIR` then writes the layout an image
 * holds (src/cli/install.ts): the Containerfile does that.
 */
import { V8_FLAGS } from "../ffi/constants.ts";
import { DENORT_ZIP, findDenort } from "../tests/support/denort.ts";

/** Runs the compile; returns the exit code. */
export async function compile(): Promise<number> {
  const denort = findDenort();
  if (!denort && Deno.env.get("DENORT_DOWNLOAD") !== "true") {
    console.error(
      `compile: no denort runtime for Deno ${Deno.version.deno}: set ` +
        `DENORT_BIN to a denort binary, or put ${DENORT_ZIP} in ` +
        `$DENO_DIR/dl/release/v${Deno.version.deno}/ (Deno's download site ` +
        `is not reachable from this machine), or set DENORT_DOWNLOAD=true ` +
        `where it is. Everything else runs with \`deno run\`.`,
    );
    return 3;
  }
  const root = new URL("../", import.meta.url).pathname;
  await Deno.mkdir(`${root}dist`, { recursive: true });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "-A",
      V8_FLAGS,
      "--include",
      "build/",
      "--output",
      "dist/cloudtaser-wrapper",
      "src/main.ts",
    ],
    cwd: root,
    env: denort?.kind === "DENORT_BIN" ? { DENORT_BIN: denort.path } : {},
  }).spawn().status;
  if (out.success) {
    console.error(`compile: wrote ${root}dist/cloudtaser-wrapper`);
  }
  return out.code;
}

if (import.meta.main) Deno.exit(await compile());
