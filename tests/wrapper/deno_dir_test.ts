/**
 * Deno's caches are code the wrapper runs: under the launcher they live in
 * the layout (ROOT/lib/deno-dir), never under the app's HOME or DENO_DIR,
 * which the app can write; the app gets its own DENO_DIR (or none) back.
 * Proven on a real layout (writeLayout, the bundle kind) and a real start:
 * what the app's environment holds, and what appeared on disk.
 */
import assert from "node:assert/strict";
import { writeLayout } from "../../src/cli/install.ts";
import { APP_DENO_DIR } from "../../src/cli/deno_dir.ts";
import { BUNDLE, bundleWrapper } from "../support/bundle.ts";
import { put, secret, sharedServer } from "../support/wrapper.ts";

const { server, stop } = sharedServer();

Deno.test("under the launcher Deno writes its caches into the layout, nothing under the app's HOME or DENO_DIR, and the app's DENO_DIR is its own", async () => {
  const bao = await server();
  const tmp = await Deno.makeTempDir({ prefix: "ct-deno-dir-" });
  try {
    const value = secret("denodir");
    await put(bao, "secret/data/denodir/app", { value });
    await Deno.mkdir(`${tmp}/bundle`);
    await Deno.mkdir(`${tmp}/home`);
    const bundle = await bundleWrapper(`${tmp}/bundle/main.js`);
    const root = `${tmp}/layout`;
    await writeLayout(root, { kind: "bundle", deno: Deno.execPath(), bundle });
    const env = (extra: Record<string, string>) =>
      bao.env({
        PATH: "/usr/bin:/bin",
        HOME: `${tmp}/home`,
        CLOUDTASER_SECRET_PATHS: "secret/data/denodir/app",
        CLOUDTASER_ENV_MAP: "value=APP_VALUE",
        ...extra,
      });
    const start = async (extra: Record<string, string>) => {
      const r = await new Deno.Command(`${root}/cloudtaser-wrapper`, {
        args: ["--", "/usr/bin/env"],
        env: env(extra),
        clearEnv: true,
      }).output();
      const out = new TextDecoder().decode(r.stdout);
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      return new Map(
        out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l]),
      );
    };
    // A planted cache where Deno would look without the launcher: the
    // app's HOME and the app's own DENO_DIR.
    const planted = "not a cache: planted by the app\n";
    const plant = async (dir: string) => {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(`${dir}/v8_code_cache_v2`, planted);
    };
    const untouched = (dir: string) =>
      [...Deno.readDirSync(dir)].map((e) => e.name).join(",") ===
        "v8_code_cache_v2" &&
      Deno.readTextFileSync(`${dir}/v8_code_cache_v2`) === planted;
    await plant(`${tmp}/home/.cache/deno`);
    await plant(`${tmp}/app-deno`);

    const without = await start({});
    assert.equal(without.get("DENO_DIR"), undefined, "the app got a DENO_DIR");
    assert.equal(without.get(APP_DENO_DIR), undefined);
    assert.ok(without.has("APP_VALUE"), "the app got its secret");
    const withOwn = await start({ DENO_DIR: `${tmp}/app-deno` });
    assert.equal(withOwn.get("DENO_DIR"), `DENO_DIR=${tmp}/app-deno`);
    assert.equal(withOwn.get(APP_DENO_DIR), undefined);

    // With refresh on, the supervisor is told the layout's cache directory
    // for its refresh processes (tests/supervisor/refresh_cycle_test.ts
    // shows it becomes their DENO_DIR).
    const child = new Deno.Command(`${root}/cloudtaser-wrapper`, {
      args: ["--", "/bin/sleep", "30"],
      env: env({ CLOUDTASER_REFRESH_INTERVAL: "1h" }),
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let argv: string[] = [];
      for (let i = 0; i < 200; i++) {
        argv = Deno.readTextFileSync(`/proc/${child.pid}/cmdline`).split("\0");
        if (argv[0] === "cloudtaser-supervisor") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const at = argv.indexOf("--deno-dir");
      assert.ok(at > 0, `no --deno-dir in ${argv.join(" ")}`);
      assert.equal(argv[at + 1], `${root}/lib/deno-dir`);
    } finally {
      // The supervisor forwards it to the app and exits with it.
      child.kill("SIGTERM");
      await child.status;
    }

    assert.ok(
      Deno.statSync(`${root}/lib/deno-dir`).isDirectory,
      "no cache in the layout",
    );
    assert.ok(untouched(`${tmp}/home/.cache/deno`), "Deno used the HOME cache");
    assert.ok(untouched(`${tmp}/app-deno`), "Deno used the app's DENO_DIR");

    // The control: the same bundle run without the launcher opens the
    // planted cache under HOME (and replaces it), so the check above can
    // fail.
    const direct = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", BUNDLE, "version"],
      env: { PATH: "/usr/bin:/bin", HOME: `${tmp}/home` },
      clearEnv: true,
    }).output();
    assert.equal(direct.code, 0);
    assert.ok(
      !untouched(`${tmp}/home/.cache/deno`),
      "the control left the planted cache alone",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
    await stop();
  }
});
