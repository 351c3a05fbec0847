/**
 * The wrapper, instrumented from outside: the same start as src/main.ts
 * (startEarly, then `main()`), loaded after a first stamp, with each request
 * (the shim's HttpClient.exchange) timed. Writes
 * `{"bench":...}` JSON lines to stderr beside the wrapper's own log, each
 * with the process's CPU time so far (`cpu`, ms, every thread); the
 * hand-over then execs the supervisor as usual. Run by profile.ts only.
 *
 * @module
 */
const now = () => performance.timeOrigin + performance.now();
// Deno.cpuUsage (what node:process's cpuUsage calls; not in Deno's types):
// getrusage(RUSAGE_SELF) in microseconds, without loading node:process.
const usage = (Deno as unknown as {
  cpuUsage?: () => { user: number; system: number };
}).cpuUsage;
const cpu = () => {
  const u = usage?.();
  return u ? (u.user + u.system) / 1000 : NaN;
};
const mark = (what: string, extra: Record<string, unknown> = {}) =>
  console.error(
    JSON.stringify({ bench: what, t: now(), cpu: cpu(), ...extra }),
  );

mark("boot");
const { startEarly } = await import("../../src/boot.ts");
startEarly();
mark("ffi");
const { main } = await import("../../src/cli/main.ts");
mark("modules");
const { HttpClient } = await import("../../ffi/http.ts");
const exchange = HttpClient.prototype.exchange;
HttpClient.prototype.exchange = async function (request, timeoutMs) {
  const start = now();
  const cpuStart = cpu();
  // The request line only (method and path): the token comes later.
  const eol = request.head.indexOf(13);
  const path = new TextDecoder().decode(request.head.subarray(0, eol))
    .split(" ")[1];
  try {
    return await exchange.call(this, request, timeoutMs);
  } finally {
    mark("fetch", { start, cpuStart, path });
  }
};
Deno.exit(await main(Deno.args));
