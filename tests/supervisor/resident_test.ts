/**
 * What stays resident after the hand-over, read from outside: the
 * supervisor's region mapping (read-only, between PROT_NONE guard pages, a
 * /secretmem file), the line in which the supervisor reports its own
 * measurement, and the core limit the app starts with.
 */
import assert from "node:assert/strict";
import { FLAGS } from "../../src/region/format.ts";
import { parseSmaps } from "../../src/protect/smaps.ts";
import {
  jsonLines,
  marker,
  Run,
  TESTAPP,
  until,
} from "../support/supervisor.ts";

/** The /secretmem VMA of `pid` and its two neighbours, from /proc/<pid>/maps. */
function regionLayout(pid: number) {
  // maps has the same header lines as smaps, without the detail lines.
  const vmas = parseSmaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
  const i = vmas.findIndex((v) => v.path.startsWith("/secretmem"));
  assert.ok(i >= 0, `no /secretmem mapping in ${pid}`);
  const r = vmas[i];
  const before = vmas[i - 1]?.end === r.start ? vmas[i - 1] : undefined;
  const after = vmas[i + 1]?.start === r.end ? vmas[i + 1] : undefined;
  return {
    region: r,
    before,
    after,
    count: vmas.filter((v) => v.path.startsWith("/secretmem")).length,
  };
}

function report(stderr: string): Record<string, unknown> {
  const line = jsonLines(stderr).find((l) =>
    String(l.message).startsWith("resident:")
  );
  assert.ok(line, `no resident report in ${stderr}`);
  return line;
}

for (const delivery of ["env", "interposer", "fd"] as const) {
  Deno.test(`${delivery} delivery: /proc/<supervisor>/maps shows the region read-only between PROT_NONE guard pages, as the supervisor reports`, async () => {
    const run = new Run([TESTAPP, "sleep", "10000"], {
      delivery,
      secrets: { DB_PASSWORD: marker("maps") },
    });
    try {
      await run.app();
      await run.waitStderr(/"message":"resident:/);
      const { region, before, after, count } = regionLayout(run.pid);
      assert.equal(count, 1, "one secretmem mapping in the supervisor");
      assert.equal(region.perms, "r--s", "the resident mapping is read-only");
      assert.equal(before?.perms, "---p", "a PROT_NONE page right before");
      assert.equal(after?.perms, "---p", "a PROT_NONE page right after");
      const r = report(run.stderr);
      assert.equal(r.level, "info");
      assert.deepEqual(r.region, {
        mapping: "/secretmem (deleted)",
        perms: "r--s",
        guard_before: "---p",
        guard_after: "---p",
        locked: true,
        dontdump: true,
        canary_intact: true,
      });
      assert.deepEqual(r.checks, {
        memfd_secret: true,
        mlock: true,
        core_dump_exclusion: true,
        guard_pages: true,
        buffer_canary: true,
        read_only: true,
        app_core_limit: true,
      });
      Deno.kill(run.pid, "SIGTERM");
      assert.equal((await run.status()).code, 143);
    } finally {
      await run.close();
    }
  });
}

const CORE_PATTERN = "/proc/sys/kernel/core_pattern";

/** Runs fn with cores piped to a helper that stores them in a temp dir. */
async function withPipeCores(fn: (dir: string) => Promise<void>) {
  const saved = Deno.readTextFileSync(CORE_PATTERN).trimEnd();
  const dir = Deno.makeTempDirSync({ prefix: "ct-sup-cores-" });
  const helper = `${dir}/catcore.sh`;
  Deno.writeTextFileSync(
    helper,
    `#!/bin/sh\ncat > "${dir}/core.$1.tmp"\nmv "${dir}/core.$1.tmp" "${dir}/core.$1"\n`,
    { mode: 0o700 },
  );
  Deno.writeTextFileSync(CORE_PATTERN, `|${helper} %P`);
  try {
    await fn(dir);
  } finally {
    Deno.writeTextFileSync(CORE_PATTERN, saved);
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "the app starts with RLIMIT_CORE 1/1 and its crash leaves no core under a pipe core_pattern; with APP_CORE_DUMPS (the control) it does",
  ignore: Deno.uid() !== 0,
  async fn() {
    await withPipeCores(async (dir) => {
      for (const allow of [false, true]) {
        const run = new Run(["/bin/sh", "-c", "read -r _; kill -SEGV $$"], {
          secrets: { DB_PASSWORD: marker("core") },
          flags: allow ? FLAGS.APP_CORE_DUMPS : 0,
          prefix: ["prlimit", "--core=unlimited", "--"],
          stdin: "piped",
        });
        try {
          const app = await run.app();
          const limits = Deno.readTextFileSync(`/proc/${app}/limits`);
          const want = allow ? "unlimited\\s+unlimited" : "1\\s+1";
          assert.match(limits, new RegExp(`Max core file size\\s+${want}\\s`));
          await run.waitStderr(/"message":"resident:/);
          const r = report(run.stderr);
          assert.deepEqual(
            r.app,
            {
              pid: app,
              core_soft: allow ? "unlimited" : "1",
              core_hard: allow ? "unlimited" : "1",
            },
          );
          assert.equal(
            (r.checks as Record<string, boolean>).app_core_limit,
            !allow,
          );
          const w = run.child.stdin.getWriter();
          await w.write(new TextEncoder().encode("go\n"));
          await w.close();
          assert.equal((await run.status()).code, 128 + 11);
          const core = `${dir}/core.${app}`;
          if (allow) {
            await until(`a core of ${app}`, () => {
              try {
                return Deno.statSync(core).size > 0;
              } catch {
                return false;
              }
            });
          } else {
            // A dumping process waits for its pipe helper to read the whole
            // core before it dies, and the helper's shell creates the file
            // first: by the exit status any core would show here.
            assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
              "catcore.sh",
            ]);
          }
        } finally {
          await run.close();
        }
      }
    });
  },
});
