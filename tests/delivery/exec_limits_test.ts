/**
 * The exec size check against the real kernel: what checkExecSize refuses,
 * execve refuses with E2BIG, and what it lets through, execve takes.
 */
import assert from "node:assert/strict";
import {
  checkExecSize,
  execArgLimit,
  MAX_ARG_STRLEN,
  stackLimit,
} from "../../src/delivery/exec_limits.ts";
import { ChildEnvError } from "../../src/delivery/child_env.ts";

Deno.test("the limit follows fs/exec.c: a quarter of RLIMIT_STACK, at most 6 MiB, at least 128 KiB", () => {
  assert.equal(execArgLimit(8 << 20), 2 << 20);
  assert.equal(execArgLimit(null), 6 << 20);
  assert.equal(execArgLimit(64 << 20), 6 << 20);
  assert.equal(execArgLimit(64 << 10), 128 << 10);
  assert.equal(
    stackLimit("Max stack size            8388608  unlimited  bytes"),
    8388608,
  );
  assert.equal(
    stackLimit("Max stack size            unlimited  unlimited  bytes"),
    null,
  );
});

/** Runs /bin/true with one variable of `len` value bytes; the exec's verdict. */
async function execWith(name: string, len: number, limit?: number) {
  const cmd = limit === undefined
    ? ["/bin/true"]
    : ["prlimit", `--stack=${limit}`, "--", "/bin/true"];
  try {
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      env: { [name]: "v".repeat(len) },
      clearEnv: true,
    }).output();
    return out.success ? "ok" : "failed";
  } catch (e) {
    return /E2BIG|Argument list too long|os error 7/.test(String(e))
      ? "E2BIG"
      : String(e);
  }
}

Deno.test("one string: the largest NAME=value the kernel takes passes, one byte more is refused, as execve does", async () => {
  const name = "BIG";
  const fits = MAX_ARG_STRLEN - name.length - 2; // NAME=value and the NUL
  const check = (len: number) => () =>
    checkExecSize({
      argv: ["/bin/true"],
      entries: [],
      records: [[name, len]],
      limit: execArgLimit(stackLimit()),
    });
  check(fits)();
  assert.throws(check(fits + 1), ChildEnvError);
  assert.throws(
    check(fits + 1),
    /secret BIG is 131068 bytes: .*MAX_ARG_STRLEN.*CLOUDTASER_DELIVERY=fd/,
  );
  assert.equal(await execWith(name, fits), "ok");
  assert.equal(await execWith(name, fits + 1), "E2BIG");
});

Deno.test("the whole: over the limit for this RLIMIT_STACK is refused, and execve agrees", async () => {
  const stack = 1 << 20; // 1 MiB: a 256 KiB limit
  const limit = execArgLimit(stack);
  assert.equal(limit, 256 << 10);
  const records: Array<[string, number]> = [];
  for (let i = 0; i < 3; i++) records.push([`S${i}`, 100_000]);
  assert.throws(
    () => checkExecSize({ argv: ["/bin/true"], entries: [], records, limit }),
    /would take \d+ bytes, over the kernel's exec limit of 262144 bytes .* the largest secrets: S0 \(100000 bytes\)/,
  );
  checkExecSize({
    argv: ["/bin/true"],
    entries: [],
    records: records.slice(0, 2),
    limit,
  });
  // The kernel, under prlimit --stack: 3 x 100 kB fails, 2 x 100 kB runs.
  const run = async (n: number) => {
    const env: Record<string, string> = {};
    for (let i = 0; i < n; i++) env[`S${i}`] = "v".repeat(100_000);
    // prlimit execs /bin/true with the lowered limit and this environment.
    const out = await new Deno.Command("prlimit", {
      args: [`--stack=${stack}`, "--", "/bin/true"],
      env,
      clearEnv: true,
      stderr: "piped",
    }).output();
    return out.success ? "ok" : new TextDecoder().decode(out.stderr);
  };
  assert.match(await run(3), /Argument list too long/);
  assert.equal(await run(2), "ok");
});
