/**
 * The start-up window (issue 11, hole 1): the wrapper registers with the
 * enforcer before any secret region exists, and a region's fd is open only
 * for the few syscalls that map it. Proven from the outside with strace on
 * the real wrapper: the order and the syscalls of the thread that holds the
 * fd are what the kernel saw.
 */
import assert from "node:assert/strict";
import {
  allOutput,
  assertNoSecretInOutput,
  put,
  secret,
  sharedServer,
  wrapperArgs,
} from "../support/wrapper.ts";
import { readTrace } from "../support/strace.ts";

const { server, stop } = sharedServer();
const VALUE = secret("order");

Deno.test("the wrapper registers with the enforcer before it creates a region, and each region fd lives for a few syscalls", async () => {
  const bao = await server();
  await put(bao, "secret/data/order/app", { value: VALUE });
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/enforcer.sock`;
  // A listener that hangs up: the wrapper finds no enforcer and starts, but
  // its connect() shows when it asked.
  const listener = Deno.listen({ transport: "unix", path: socket });
  const accepting = (async () => {
    for await (const c of listener) c.close();
  })();
  try {
    const trace = `${dir}/trace`;
    const out = await new Deno.Command("strace", {
      args: [
        "-ff",
        "-ttt",
        "-qq",
        "-o",
        trace,
        "-e",
        "trace=all",
        "-s",
        "0",
        Deno.execPath(),
        ...wrapperArgs(["--", "/bin/true"]),
      ],
      env: bao.env({
        PATH: "/usr/bin:/bin",
        CLOUDTASER_SECRET_PATHS: "secret/data/order/app",
        CLOUDTASER_ENV_MAP: "value=APP_VALUE",
        CLOUDTASER_ENFORCER_SOCKET: socket,
        // strace is a tracer: the wrapper and the supervisor refuse one
        // unless told (tests/attacks/neighbour_test.ts proves the refusal).
        CLOUDTASER_ALLOW_TRACER: "true",
      }),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    allOutput.push(new TextDecoder().decode(out.stdout), stderr);
    assert.equal(out.code, 0, stderr);
    // The knob lets the start go on, and says so in each process.
    assert.match(stderr, /attached to thread \d+ of the wrapper.*ALLOW_TRACER/);
    assert.match(
      stderr,
      /attached to the supervisor \(CLOUDTASER_ALLOW_TRACER/,
    );
    const calls = await readTrace(dir, "trace");
    const register = calls.findIndex((c) =>
      c.name === "connect" && c.args.includes("enforcer.sock")
    );
    const firstRegion = calls.findIndex((c) => c.name === "memfd_secret");
    assert.ok(register >= 0, "no connect() to the enforcer socket");
    assert.ok(firstRegion >= 0, "no memfd_secret: the region is not secretmem");
    assert.ok(
      register < firstRegion,
      "a secret region existed before the wrapper asked the enforcer",
    );
    // Every region fd, of the wrapper and of the token: on its own thread,
    // nothing but ftruncate and the two mmaps until it is closed (strace
    // traces every syscall).
    let regions = 0;
    const handOvers: number[] = [];
    calls.forEach((c, i) => {
      if (c.name !== "memfd_secret" || !/^\d+$/.test(c.ret)) return;
      const fd = c.ret;
      const after = calls.slice(i + 1).filter((x) => x.tid === c.tid);
      const end = after.findIndex((x) =>
        (x.name === "close" && x.args === fd) || x.name === "execveat"
      );
      assert.ok(end >= 0, `region fd ${fd} was never closed`);
      const between = after.slice(0, end).map((x) => x.name);
      if (after[end].name === "execveat") {
        // The hand-over's copy, made with every signal blocked right before
        // the exec: filled a page at a time, made inheritable, nothing else.
        handOvers.push(
          Math.round((after[end].at - c.at) * 1e6),
        );
        assert.deepEqual(
          [...new Set(between)].sort(),
          ["fcntl", "ftruncate", "mmap", "munmap"],
          `the hand-over's region fd was open across ${between.join(", ")}`,
        );
      } else {
        assert.deepEqual(
          between,
          ["ftruncate", "mmap", "mmap"],
          `region fd ${fd} was open across ${between.join(", ")}`,
        );
      }
      regions++;
    });
    assert.ok(regions >= 3, `${regions} regions (secrets, token, copy)`);
    assert.equal(handOvers.length, 1, "one copy for the hand-over");
    console.log(
      `  hand-over copy: fd open ${
        handOvers[0]
      } us before the exec (under strace)`,
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start-up order: no secret in any output", async () => {
  await stop();
  assertNoSecretInOutput([VALUE]);
});
