/**
 * The images the container tests run, assembled from files built here
 * (`FROM scratch`: no registry is reachable):
 *
 * - the wrapper image: the Containerfile's last stage as it is written, with
 *   its `COPY --from=build` fed from a layout assembled here. With a denort
 *   runtime that layout comes from the `deno compile` binary (as in the
 *   Containerfile's build stage); without one, from this Deno, the bundled
 *   program and build/ (`WrapperImage.kind` says which, and so must every
 *   test name and output that depends on it);
 * - app images: `ct-container-app` (c/container/app.c) alone, static in an
 *   empty image, glibc-dynamic with only its loader and libc, or musl with
 *   musl's loader.
 */
import { listLibraries, writeLayout } from "../../src/cli/install.ts";
import { nativePath } from "../../ffi/mod.ts";
import { bytesSource, parseElf } from "../../src/delivery/elf.ts";
import { bundleWrapper } from "./bundle.ts";
import { findDenort } from "./denort.ts";
import type { Podman } from "./podman.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Where the wrapper image keeps the layout (the Containerfile's ENTRYPOINT). */
export const IMAGE_LAYOUT = "/opt/cloudtaser";

/** The wrapper image that was built, and from what. */
export interface WrapperImage {
  tag: string;
  kind: "compiled" | "bundle";
  /** One sentence for test names and output. */
  note: string;
}

/** The three kinds of app image. */
export type AppKind = "static" | "glibc" | "musl";

/** The app binary inside every app image. */
export const APP = "/app";

/**
 * The last stage of a Containerfile (from its last FROM), with each
 * `COPY --from=build SRC DST` reading SRC from the build context instead.
 */
export function finalStage(containerfile: string): string {
  const lines = containerfile.split("\n");
  const from = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  if (from < 0) throw new Error("the Containerfile has no FROM");
  return lines.slice(from).map((l) =>
    l.replace(
      /^COPY\s+--from=build\s+\/(\S*)\s+(\S+)\s*$/i,
      (_, src, dst) => `COPY ${src || "."} ${dst}`,
    )
  ).join("\n");
}

/**
 * What {@link buildWrapperImage} will build here: decided before anything is
 * built, so test names can say it.
 */
export function wrapperImageKind(): Omit<WrapperImage, "tag"> {
  return findDenort()
    ? { kind: "compiled", note: "the deno compile binary" }
    : {
      kind: "bundle",
      note: "assembled from deno + the bundled program + build/: no denort " +
        "runtime here for deno compile",
    };
}

/**
 * Builds the wrapper image as `tag`: the Containerfile's last stage over a
 * layout at `image/opt/cloudtaser` of a temporary context.
 */
export async function buildWrapperImage(
  podman: Podman,
  tag = "cloudtaser-wrapper:test",
): Promise<WrapperImage> {
  const stage = finalStage(
    await Deno.readTextFile(`${ROOT}Containerfile`),
  );
  const copy = stage.match(/^COPY\s+(\S+)\s+\/\s*$/m);
  if (!copy) {
    throw new Error(
      `the Containerfile's last stage has no COPY --from=build DIR/ /:\n${stage}`,
    );
  }
  const context = await Deno.makeTempDir({ prefix: "ct-wrapper-image-" });
  try {
    const layout = `${context}/${copy[1]}${IMAGE_LAYOUT}`;
    const planned = wrapperImageKind();
    const kind = await assembleLayout(layout, context);
    if (kind !== planned.kind) {
      throw new Error(`built ${kind}, not ${planned.kind}`);
    }
    await podman.build(tag, context, stage);
    return { tag, ...planned };
  } finally {
    await Deno.remove(context, { recursive: true });
  }
}

/** Writes the install layout into `dir`; returns what it holds. */
async function assembleLayout(
  dir: string,
  scratch: string,
): Promise<"compiled" | "bundle"> {
  if (findDenort()) {
    const compile = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/compile.ts`],
      cwd: ROOT,
    }).output();
    if (!compile.success) {
      throw new Error(
        `scripts/compile.ts failed: ${
          new TextDecoder().decode(compile.stderr)
        }`,
      );
    }
    const inst = await new Deno.Command(`${ROOT}dist/cloudtaser-wrapper`, {
      args: ["install", dir],
    }).output();
    if (!inst.success) {
      throw new Error(
        `dist/cloudtaser-wrapper install failed: ${
          new TextDecoder().decode(inst.stderr)
        }`,
      );
    }
    return "compiled";
  }
  const bundle = await bundleWrapper(`${scratch}/main.js`);
  await writeLayout(dir, { kind: "bundle", deno: Deno.execPath(), bundle });
  await Deno.remove(bundle);
  return "bundle";
}

/** Builds the app image of `kind` as `tag`: the app and what it needs. */
export async function buildAppImage(
  podman: Podman,
  kind: AppKind,
  tag = `ct-app-${kind}:test`,
): Promise<string> {
  const context = await Deno.makeTempDir({ prefix: `ct-app-${kind}-` });
  try {
    const app = nativePath(`container/ct-app-${kind}`);
    const files: Array<[string, string]> = [[app, APP]];
    if (kind === "glibc") {
      const libs = await listLibraries(app);
      files.push([libs.loader, libs.loader]);
      for (const [, path] of libs.needed) files.push([path, path]);
    } else if (kind === "musl") {
      // musl's libc is its loader: the PT_INTERP file is all it needs.
      const interp = parseElf(bytesSource(await Deno.readFile(app)))?.interp;
      if (!interp) throw new Error(`${app} names no loader`);
      files.push([await Deno.realPath(interp), interp]);
    }
    for (const [from, to] of files) {
      await Deno.mkdir(`${context}/rootfs${to.replace(/\/[^/]*$/, "")}`, {
        recursive: true,
      });
      await Deno.copyFile(from, `${context}/rootfs${to}`);
    }
    await podman.build(tag, context, "FROM scratch\nCOPY rootfs/ /\n");
    return tag;
  } finally {
    await Deno.remove(context, { recursive: true });
  }
}
