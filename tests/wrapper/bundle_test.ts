/**
 * The bundle that ships (tests/support/bundle.ts) loads no Node
 * compatibility module at start: no top-level `import ... from "node:..."`
 * in the entry or any chunk (LogTape's Node build brought `node:util`,
 * about 6 ms of CPU per start), the other commands are chunks of their
 * own, and it still runs.
 */
import assert from "node:assert/strict";
import { bundleFiles } from "../../src/cli/install.ts";
import {
  bundleWrapper,
  denoUtil,
  STATIC_NODE_IMPORT,
} from "../support/bundle.ts";

Deno.test("bundle: no static node: import is left, and the bundle runs", async () => {
  // Beside build/'s native files, as ffi/load.ts expects.
  const out = await bundleWrapper(
    new URL(
      `../../build/ct-bundle-test-${crypto.randomUUID()}.js`,
      import.meta.url,
    ).pathname,
  );
  try {
    const files = bundleFiles(out);
    // The run path's modules in the entry's static graph; the other
    // commands in chunks of their own, loaded by import().
    assert.ok(files.length > 3, files.join(" "));
    assert.ok(files.some((f) => /^webhook-/.test(f)), files.join(" "));
    for (const f of files) {
      const code = await Deno.readTextFile(out.replace(/[^/]*$/, f));
      assert.equal(STATIC_NODE_IMPORT.exec(code)?.[0], undefined, f);
    }
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", out, "version"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.match(
      new TextDecoder().decode(r.stdout),
      /^cloudtaser-wrapper \d+\.\d+\.\d+\n$/,
    );
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("bundle: LogTape's node:util import becomes Deno.inspect; any other static node: import is refused", () => {
  const out = denoUtil(
    'var a = 1;\nimport util from "node:util";\nfunction inspect(o, p) {\n' +
      "  return util.inspect(o, p);\n}\n",
  );
  assert.doesNotMatch(out, /node:util/);
  const util = new Function(
    `${out.split("\n").find((l) => l.startsWith("const util"))}; return util;`,
  )() as { inspect(v: unknown, o?: unknown): string };
  assert.equal(util.inspect({ a: [1, 2] }), Deno.inspect({ a: [1, 2] }));
  assert.throws(
    () => denoUtil('import { inspect } from "node:util";\n'),
    /static import of a node: module is left/,
  );
  assert.throws(
    () => denoUtil('import fs from "node:fs";\n'),
    /import fs from "node:fs"/,
  );
  // A dynamic import loads only when its code runs: allowed.
  assert.equal(
    denoUtil('const { parseArgs } = await import("node:util");\n'),
    'const { parseArgs } = await import("node:util");\n',
  );
});
