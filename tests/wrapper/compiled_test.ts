/**
 * The single binary end to end, where it can be built. `deno compile` needs
 * Deno's denort runtime (DENORT_BIN or the DENO_DIR cache); where there is
 * none this test is reported as ignored, with the reason in its name, and
 * `deno task compile` is checked to say so plainly.
 */
import assert from "node:assert/strict";
import { findDenort } from "../support/denort.ts";
import { put, sharedServer } from "../support/wrapper.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const denort = findDenort();

Deno.test("deno task compile says plainly when there is no denort runtime", {
  ignore: denort !== null,
}, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/compile.ts`],
    env: { DENORT_BIN: "" },
  }).output();
  assert.equal(out.code, 3);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /no denort runtime for Deno 2\.9\.6: set DENORT_BIN/,
  );
});

Deno.test({
  name: denort
    ? "the compiled binary installs itself and runs an app with its secrets"
    : "the compiled binary end to end (NOT RUN: no denort runtime on this machine; set DENORT_BIN)",
  ignore: denort === null,
  async fn() {
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/compile.ts`],
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const dir = await Deno.makeTempDir({ prefix: "ct-compiled-" });
    const { server, stop } = sharedServer();
    try {
      const inst = await new Deno.Command(`${ROOT}dist/cloudtaser-wrapper`, {
        args: ["install", dir],
      }).output();
      assert.equal(inst.code, 0, new TextDecoder().decode(inst.stderr));
      const bao = await server();
      await put(bao, "secret/data/compiled/app", {
        token: "compiled-binary-secret",
      });
      for (const delivery of ["env", "interposer"]) {
        const run = await new Deno.Command(`${dir}/cloudtaser-wrapper`, {
          args: [
            "--",
            "/bin/sh",
            "-c",
            'test "$token" = compiled-binary-secret && echo ok',
          ],
          env: bao.env({
            PATH: "/usr/bin:/bin",
            CLOUDTASER_SECRET_PATHS: "secret/data/compiled/app",
            CLOUDTASER_DELIVERY: delivery,
          }),
          clearEnv: true,
        }).output();
        assert.equal(
          new TextDecoder().decode(run.stdout).trim(),
          "ok",
          new TextDecoder().decode(run.stderr),
        );
      }
    } finally {
      await stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
