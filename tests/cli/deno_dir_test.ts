/** restoreAppDenoDir (src/cli/deno_dir.ts); tests/wrapper/deno_dir_test.ts runs it for real. */
import assert from "node:assert/strict";
import { APP_DENO_DIR, restoreAppDenoDir } from "../../src/cli/deno_dir.ts";

function fakeEnv(init: Record<string, string>) {
  const m = new Map(Object.entries(init));
  return {
    map: m,
    get: (k: string) => m.get(k),
    set: (k: string, v: string) => void m.set(k, v),
    delete: (k: string) => void m.delete(k),
  };
}

Deno.test("restoreAppDenoDir: the launcher's DENO_DIR goes, the app's comes back; any other is left alone", () => {
  const exe = "/cloudtaser/lib/ld.so";
  const ours = "/cloudtaser/lib/deno-dir";
  let e = fakeEnv({ DENO_DIR: ours });
  restoreAppDenoDir(exe, e);
  assert.deepEqual([...e.map], []);
  e = fakeEnv({ DENO_DIR: ours, [APP_DENO_DIR]: "/home/app/.deno" });
  restoreAppDenoDir(exe, e);
  assert.deepEqual([...e.map], [["DENO_DIR", "/home/app/.deno"]]);
  // Not the launcher's (run without it, or another layout): untouched.
  e = fakeEnv({ DENO_DIR: "/elsewhere", [APP_DENO_DIR]: "/x" });
  restoreAppDenoDir(exe, e);
  assert.deepEqual([...e.map], [["DENO_DIR", "/elsewhere"], [
    APP_DENO_DIR,
    "/x",
  ]]);
});
