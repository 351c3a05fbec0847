/**
 * The wrapper, instrumented from outside: the same start as src/main.ts
 * (startEarly, then `main()`), loaded after a first stamp, with `fetch` timed. Writes
 * `{"bench":...}` JSON lines to stderr beside the wrapper's own log; the
 * hand-over then execs the supervisor as usual. Run by profile.ts only.
 *
 * @module
 */
const now = () => performance.timeOrigin + performance.now();
const mark = (what: string, extra: Record<string, unknown> = {}) =>
  console.error(JSON.stringify({ bench: what, t: now(), ...extra }));

mark("boot");
const { startEarly } = await import("../../src/boot.ts");
startEarly();
mark("ffi");
const { main } = await import("../../src/cli/main.ts");
mark("modules");
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const start = now();
  try {
    return await realFetch(input, init);
  } finally {
    const url = input instanceof Request ? input.url : String(input);
    mark("fetch", { start, path: new URL(url).pathname });
  }
};
Deno.exit(await main(Deno.args));
