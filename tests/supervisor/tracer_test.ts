/**
 * The supervisor refuses a tracer that is already attached when it starts
 * (it could make the supervisor hand it the region): exit 125, the tracer
 * named, the app never run, unless the region's flags say
 * CLOUDTASER_ALLOW_TRACER. Started by refresh_launch, without the wrapper
 * (whose own check would refuse first), under `strace -f`.
 */
import assert from "node:assert/strict";
import { FAKE, LAUNCH, SUPERVISOR } from "../support/refresh.ts";

const dec = new TextDecoder();

async function start(strace: boolean) {
  const launch = [
    LAUNCH,
    "--supervisor",
    SUPERVISOR,
    "--program",
    FAKE,
    "--arg",
    "refresh_fake",
    "--",
    "--delivery",
    "env",
    "--",
    "/bin/sh",
    "-c",
    "echo app-ran",
  ];
  const argv = strace
    ? ["strace", "-f", "-qq", "-e", "trace=none", "-o", "/dev/null", ...launch]
    : launch;
  const p = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { PATH: "/usr/bin:/bin" },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode("K=v\n\nVAULT_TOKEN=t\n\n"));
  await w.close();
  const out = await p.output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("a supervisor started under a tracer exits 125 naming it, and the app never runs", async () => {
  const r = await start(true);
  assert.equal(r.code, 125, r.stderr);
  assert.match(
    r.stderr,
    /a tracer \(pid \d+\) is attached to the supervisor: the app does not start/,
  );
  assert.doesNotMatch(r.stdout, /app-ran/);
});

Deno.test("control: the same start without a tracer runs the app", async () => {
  const r = await start(false);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /app-ran/);
});
