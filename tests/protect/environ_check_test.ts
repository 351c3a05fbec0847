/**
 * environ_scrubbed's two halves: what it reads (the process's own
 * environment block, which is what /proc/<pid>/environ serves, readable for
 * any uid) and what it looks for (values, NAME=value records, plain values
 * under a secret's name; vault: references pass).
 */
import assert from "node:assert/strict";
import {
  checkEnviron,
  environProblem,
  ownEnvironRange,
  readOwnEnviron,
} from "../../src/protect/environ_check.ts";
import { asNobody, unprivilegedTree } from "../support/unprivileged.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const environ = (...entries: string[]) =>
  enc.encode(entries.map((e) => e + "\0").join(""));

Deno.test("readOwnEnviron is byte for byte what the kernel serves as /proc/self/environ", () => {
  const [start, end] = ownEnvironRange();
  assert.ok(end > start);
  assert.deepEqual(readOwnEnviron(), Deno.readFileSync("/proc/self/environ"));
});

Deno.test("ownEnvironRange counts fields after the last ')' (comm may hold spaces and parentheses)", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  const stat = `42 (a) b (c) ${fields.join(" ")}`;
  assert.deepEqual(ownEnvironRange(stat), [50n, 51n]);
});

Deno.test("as uid 65534 with dumpable 0: /proc/self/environ is EACCES, the memory read still works", async () => {
  const tree = await unprivilegedTree();
  const marker = `CT-NONROOT-${crypto.randomUUID()}`;
  // setDumpable(false) first, as the wrapper does; then both reads.
  const script = `
    import { setDumpable } from "${tree.root}/ffi/mod.ts";
    import { readOwnEnviron } from "${tree.root}/src/protect/environ_check.ts";
    setDumpable(false);
    let file = "opened";
    try { Deno.readFileSync("/proc/self/environ"); }
    catch (e) { file = e.code ?? e.name; }
    const mem = new TextDecoder().decode(readOwnEnviron());
    console.log(file, mem.split("\\0").includes("MARK=${marker}"));
  `;
  const path = `${tree.root}/environ_probe.ts`;
  await Deno.writeTextFile(path, script);
  await Deno.chmod(path, 0o644);
  const [cmd, ...args] = asNobody([
    Deno.execPath(),
    "run",
    "-A",
    "--no-lock",
    "--config",
    tree.config,
    path,
  ]);
  const out = await new Deno.Command(cmd, {
    args,
    env: { MARK: marker, DENO_DIR: tree.denoDir, PATH: "/usr/bin:/bin" },
    clearEnv: true,
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.equal(dec.decode(out.stdout).trim(), "EACCES true");
});

Deno.test("a vault: reference under a secret's name is not a secret", () => {
  const r = checkEnviron(
    environ("PATH=/bin", "DB_PASSWORD=vault:secret/data/app#password"),
    [["DB_PASSWORD", enc.encode("s3cret-value")]],
  );
  assert.deepEqual(r, { clean: true, keys: [], records: [], values: [] });
});

Deno.test("a secret's value anywhere, its record at any length, and a plain value under its name are found", () => {
  const value = enc.encode("s3cret-value");
  assert.deepEqual(
    checkEnviron(environ("OTHER=xx s3cret-value yy"), [["DB", value]]),
    { clean: false, keys: [], records: [], values: ["DB"] },
  );
  // Under MIN_VALUE_LENGTH a value is not searched alone, but its record is.
  const pin = enc.encode("4711");
  assert.deepEqual(
    checkEnviron(environ("A=1", "PIN=4711"), [["PIN", pin]]),
    { clean: false, keys: [], records: ["PIN"], values: [] },
  );
  assert.equal(checkEnviron(environ("X=4711"), [["PIN", pin]]).clean, true);
  // A value set in the pod spec under the secret's name (an old one, say).
  const r = checkEnviron(environ("DB=old-value"), [["DB", value]]);
  assert.deepEqual(r.keys, ["DB"]);
  assert.match(environProblem(r), /plain \(not vault:\) value under .*DB/);
  // A value that itself starts with vault: is still a record.
  const tricky = enc.encode("vault:looks-like-a-reference");
  assert.deepEqual(
    checkEnviron(environ("T=vault:looks-like-a-reference"), [["T", tricky]])
      .records,
    ["T"],
  );
});

Deno.test("names only: the report and its message never hold a value", () => {
  const value = "s3cret-value-xyz";
  const r = checkEnviron(environ(`DB=${value}`, `X=${value}`), [
    ["DB", enc.encode(value)],
  ]);
  assert.ok(!JSON.stringify(r).includes(value));
  assert.ok(!environProblem(r).includes(value));
});
